package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testLibrary is the function library FillVersionTypes loads on servers
// with functions (Redis 7.0+, every Valkey).
const testLibrary = "#!lua name=rdbaklib\nredis.register_function('rdbak_echo', function(keys, args) return args[1] end)\n"

// HasFunctions reports whether the server has FUNCTION (Redis 7.0+; Valkey
// numbers its releases from 7.2).
func (s Server) HasFunctions() bool { return s.AtLeast(7, 0) }

// HasHashFieldTTL reports whether the server has HEXPIRE: Redis 7.4+. Valkey
// gained it in 9.0, with its own RDB type.
func (s Server) HasHashFieldTTL() bool {
	return s.Flavor == "redis" && s.AtLeast(7, 4) || s.Flavor == "valkey" && s.AtLeast(9, 0)
}

// FillVersionTypes adds to db 0 and db 3 of r what only some versions have,
// on top of FillAllTypes: a function library (7.0+), and hash fields with
// TTLs (HEXPIRE, 7.4+) in a small listpack hash and in a hashtable hash.
// State covers what DEBUG DIGEST does not: functions and field TTLs.
func FillVersionTypes(t testing.TB, r *Redis) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password})
	defer c.Close()
	if r.Server.HasFunctions() {
		if err := c.Do(ctx, "FUNCTION", "LOAD", "REPLACE", testLibrary).Err(); err != nil {
			t.Fatalf("FUNCTION LOAD on %s: %v", r.Server.Name, err)
		}
	}
	if !r.Server.HasHashFieldTTL() {
		return
	}
	for _, db := range []int{0, 3} {
		c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DB: db})
		p := c.Pipeline()
		p.HSet(ctx, "hfe:small", "a", "1", "b", "2", "c", "3")
		for i := range 700 { // beyond hash-max-listpack-entries (512 in 7.4): a hashtable
			p.HSet(ctx, "hfe:big", fmt.Sprintf("field-%d", i), fmt.Sprintf("value-%d", i))
		}
		p.Do(ctx, "HEXPIRE", "hfe:small", 86400, "FIELDS", 2, "a", "b")
		p.Do(ctx, "HEXPIRE", "hfe:big", 172800, "FIELDS", 3, "field-1", "field-2", "field-250")
		p.Do(ctx, "HPEXPIRE", "hfe:big", 90000000, "FIELDS", 1, "field-3")
		_, err := p.Exec(ctx)
		_ = c.Close()
		if err != nil {
			t.Fatalf("fill hash field TTLs in db %d on %s: %v", db, r.Server.Name, err)
		}
	}
	for key, want := range map[string]string{"hfe:small": "listpackex", "hfe:big": "hashtable"} {
		if got, err := c.ObjectEncoding(ctx, key).Result(); err != nil || got != want {
			t.Fatalf("OBJECT ENCODING %s = %q (%v), want %s", key, got, err, want)
		}
	}
}

// State describes r's dataset for equality checks after a restore: DEBUG
// DIGEST, plus the function libraries with their code and the absolute
// expiry of every hash field FillVersionTypes gave a TTL, which the digest
// does not cover.
func State(t testing.TB, r *Redis) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b strings.Builder
	b.WriteString("digest " + r.Digest(t))
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password})
	defer c.Close()
	if r.Server.HasFunctions() {
		libs, err := c.Do(ctx, "FUNCTION", "LIST", "WITHCODE").Result()
		if err != nil {
			t.Fatalf("FUNCTION LIST on %s: %v", r.Server.Name, err)
		}
		fmt.Fprintf(&b, "\nfunctions %v", libs)
	}
	if r.Server.HasHashFieldTTL() {
		for _, db := range []int{0, 3} {
			c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DB: db})
			small, err1 := c.Do(ctx, "HPEXPIRETIME", "hfe:small", "FIELDS", 3, "a", "b", "c").Result()
			big, err2 := c.Do(ctx, "HPEXPIRETIME", "hfe:big", "FIELDS", 5, "field-1", "field-2", "field-3", "field-250", "field-4").Result()
			_ = c.Close()
			if err1 != nil || err2 != nil {
				t.Fatalf("HPEXPIRETIME in db %d on %s: %v %v", db, r.Server.Name, err1, err2)
			}
			fmt.Fprintf(&b, "\ndb%d field expiries %v %v", db, small, big)
		}
	}
	return b.String()
}
