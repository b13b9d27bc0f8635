/* rdbakmod is the smallest Redis module: it registers itself under the
 * name rdbakmod and nothing else. The drill e2e test loads it into a
 * target from a volume its scratch pod does not get. It calls the module
 * API through the pointer Redis passes in, as redismodule.h's
 * RedisModule_Init does, so it needs no header. */
typedef int (*get_api_fn)(const char *name, void *out);
typedef void (*set_attribs_fn)(void *ctx, const char *name, int ver, int apiver);

int RedisModule_OnLoad(void **ctx, void **argv, int argc) {
	(void)argv;
	(void)argc;
	get_api_fn get_api = (get_api_fn)ctx[0];
	set_attribs_fn set_attribs = 0;
	if (get_api("RedisModule_SetModuleAttribs", (void *)&set_attribs) != 0 || set_attribs == 0)
		return 1;
	set_attribs(ctx, "rdbakmod", 1, 1);
	return 0;
}
