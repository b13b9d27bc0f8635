package main

// The kinds of keys: each method writes one key (or a few commands that
// build one collection) and returns the bytes it generated.

import (
	"strconv"
	"strings"
)

// ns prefixes every key, as applications sharing a Redis do.
const ns = "shop:"

// epoch is the Unix time of the first key; ts advances with the keys, as
// the clock of an application filling its cache does.
const epoch = 1760000000

func (g *gen) ts() int64 { return epoch + g.seq/4 + g.r.Int64N(3600) }

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
		"okhttp/4.12.0",
		"MyShopApp/7.3.1 (iOS 18.1; iPhone15,2)",
	}
	locales   = []string{"en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "nl-NL", "pl-PL", "it-IT"}
	roles     = []string{"user", "beta", "admin", "support", "partner", "trial"}
	countries = []string{"US", "DE", "GB", "FR", "BR", "IN", "JP", "NL", "PL", "ES", "CA", "AU"}
	plans     = []string{"free", "pro", "team", "enterprise"}
	events    = []string{"view", "view", "view", "click", "click", "add_to_cart", "purchase", "search", "login", "share"}
	sources   = []string{"search", "home", "recommended", "email", "ad", "direct"}
	domains   = []string{"example.com", "mail.example.org", "corp.example.net", "example.io"}
	zones     = []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "America/Sao_Paulo"}
	devices   = []string{
		`{"os":"iOS","os_version":"18.1","app":"MyShopApp","app_version":"7.3.1","screen":"1170x2532","push":true}`,
		`{"os":"Android","os_version":"14","app":"MyShopApp","app_version":"7.3.0","screen":"1080x2400","push":false}`,
		`{"os":"Windows","browser":"Chrome","browser_version":"131","screen":"1920x1080"}`,
		`{"os":"macOS","browser":"Safari","browser_version":"18.1","screen":"2560x1600"}`,
		`{"os":"Linux","browser":"Firefox","browser_version":"133","screen":"1920x1200"}`,
	}
	features = strings.Fields("new_checkout dark_mode one_click recs_v2 fast_search gift_cards wishlist loyalty " +
		"express_ship chat_support reviews_v3 price_alerts bundles ar_preview voice_search")
)

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }
func (g *gen) product() *product      { return &g.catalog[g.prodZipf.Uint64()] }

func (g *gen) ip() {
	g.buf = strconv.AppendInt(append(g.buf, "10."...), g.r.Int64N(256), 10)
	for range 2 {
		g.buf = strconv.AppendInt(append(g.buf, '.'), g.r.Int64N(256), 10)
	}
}

func (g *gen) email() {
	g.buf = append(g.buf, g.word()...)
	g.buf = append(g.buf, '.')
	g.buf = append(g.buf, g.word()...)
	g.buf = strconv.AppendInt(g.buf, g.r.Int64N(1000), 10)
	g.buf = append(g.buf, '@')
	g.buf = append(g.buf, g.pick(domains)...)
}

// field appends ,"name": to the JSON object being built.
func (g *gen) field(name string) {
	g.buf = append(g.buf, `,"`...)
	g.buf = append(g.buf, name...)
	g.buf = append(g.buf, `":`...)
}

func (g *gen) quoted(s string) { g.buf = strconv.AppendQuote(g.buf, s) }

// session is a JSON session object of 0.3 to 4 KiB; a third expire.
func (g *gen) session() int64 {
	g.selectDB(0)
	g.begin("SET")
	g.buf = append(g.buf, ns+"session:"...)
	g.hex(32)
	g.end()
	// The session id repeats the key's, as session stores do.
	sid := g.buf[len(g.buf)-32:]
	g.buf = append(g.buf, `{"sid":"`...)
	g.buf = append(g.buf, sid...)
	g.buf = append(g.buf, '"')
	g.field("user_id")
	g.buf = strconv.AppendInt(g.buf, g.r.Int64N(5_000_000), 10)
	g.field("email")
	g.buf = append(g.buf, '"')
	g.email()
	g.buf = append(g.buf, '"')
	created := g.ts()
	g.field("created")
	g.buf = strconv.AppendInt(g.buf, created, 10)
	g.field("last_seen")
	g.buf = strconv.AppendInt(g.buf, created+g.r.Int64N(7200), 10)
	g.field("ip")
	g.buf = append(g.buf, '"')
	g.ip()
	g.buf = append(g.buf, '"')
	g.field("ua")
	g.quoted(g.pick(userAgents))
	g.field("locale")
	g.quoted(g.pick(locales))
	g.field("csrf")
	g.buf = append(g.buf, '"')
	g.token(32)
	g.buf = append(g.buf, '"')
	g.field("roles")
	g.buf = append(g.buf, `["user"`...)
	for range g.r.IntN(3) {
		g.buf = append(g.buf, ',')
		g.quoted(g.pick(roles))
	}
	g.buf = append(g.buf, ']')
	if g.r.IntN(10) < 7 {
		g.field("flags")
		for i, f := range features {
			g.buf = append(g.buf, "{,"[min(i, 1)])
			g.quoted(f)
			g.buf = strconv.AppendBool(append(g.buf, ':'), g.r.IntN(4) == 0)
		}
		g.buf = append(g.buf, '}')
	}
	g.field("device")
	d := g.pick(devices)
	g.buf = append(g.buf, d...)
	g.field("consent")
	g.buf = strconv.AppendBool(append(g.buf, `{"analytics":`...), g.r.IntN(4) > 0)
	g.buf = strconv.AppendBool(append(g.buf, `,"marketing":`...), g.r.IntN(3) == 0)
	g.buf = append(g.buf, `,"version":"2025-06","source":"banner"}`...)
	g.field("geo")
	g.buf = append(g.buf, `{"country":`...)
	g.quoted(g.pick(countries))
	g.buf = append(g.buf, `,"region":`...)
	g.quoted(g.words[g.tagZipf.Uint64()])
	g.buf = append(g.buf, '}')
	if g.r.IntN(2) == 0 {
		g.field("prefs")
		g.buf = append(g.buf, `{"theme":`...)
		g.quoted(g.pick([]string{"dark", "light", "system"}))
		g.buf = append(g.buf, `,"tz":`...)
		g.quoted(g.pick(zones))
		g.buf = strconv.AppendBool(append(g.buf, `,"notify":`...), g.r.IntN(2) == 0)
		g.buf = append(g.buf, '}')
	}
	if n := g.r.IntN(12) - 3; n > 0 {
		g.field("cart")
		for i := range n {
			p := g.product()
			g.buf = append(g.buf, "[,"[min(i, 1)])
			g.buf = append(g.buf, `{"sku":`...)
			g.quoted(p.sku)
			g.buf = strconv.AppendInt(append(g.buf, `,"qty":`...), 1+g.r.Int64N(3), 10)
			g.buf = append(g.buf, `,"price":`...)
			g.buf = append(g.buf, p.price...)
			g.buf = append(g.buf, `,"name":`...)
			g.quoted(p.name)
			g.buf = append(g.buf, '}')
		}
		g.buf = append(g.buf, ']')
	}
	if n := g.r.IntN(40) - 10; n > 0 {
		g.field("history")
		for i := range n {
			p := g.product()
			g.buf = append(g.buf, "[,"[min(i, 1)])
			g.buf = append(g.buf, `"/c/`...)
			g.buf = append(g.buf, p.category...)
			g.buf = append(g.buf, "/p/"...)
			g.buf = append(g.buf, p.sku...)
			g.buf = append(g.buf, '"')
		}
		g.buf = append(g.buf, ']')
	}
	g.buf = append(g.buf, '}')
	g.end()
	if g.r.IntN(3) == 0 {
		g.str("EX")
		g.int(3600 + g.r.Int64N(30*86400))
	}
	return g.send()
}

// user is a profile hash; one in 200 is an inventory with 200 to 2000
// fields, stored as a hash table rather than a listpack.
func (g *gen) user() int64 {
	g.selectDB(0)
	if g.r.IntN(200) == 0 {
		var n int64
		g.seq++
		k := ns + "inventory:" + strconv.FormatInt(g.seq, 10)
		for left := 200 + g.r.IntN(1800); left > 0; left -= 100 {
			g.begin("HSET", k)
			for range min(left, 100) {
				p := g.product()
				g.str(p.sku)
				g.buf = strconv.AppendInt(g.buf, g.r.Int64N(500), 10)
				g.buf = append(g.buf, '|')
				g.buf = append(g.buf, p.price...)
				g.buf = append(g.buf, '|')
				g.buf = append(g.buf, p.name...)
				g.end()
			}
			n += g.send()
		}
		return n
	}
	g.begin("HSET")
	g.key(ns + "user:")
	g.str("name")
	g.text(2)
	g.end()
	g.str("email")
	g.email()
	g.end()
	g.str("country")
	g.str(g.pick(countries))
	g.str("plan")
	g.str(g.pick(plans))
	g.str("signup")
	g.int(g.ts())
	g.str("logins")
	g.int(g.r.Int64N(5000))
	g.str("last_ip")
	g.ip()
	g.end()
	if g.r.IntN(2) == 0 {
		g.str("bio")
		g.text(3 + g.r.IntN(60))
		g.end()
	}
	if g.r.IntN(3) == 0 {
		g.str("avatar")
		g.buf = append(g.buf, "https://cdn.example.com/a/"...)
		g.hex(40)
		g.buf = append(g.buf, ".jpg"...)
		g.end()
	}
	if g.r.IntN(4) == 0 {
		g.str("api_key")
		g.token(40)
		g.end()
	}
	return g.send()
}

// feed is a list of short JSON events, 5 to 400 of them.
func (g *gen) feed() int64 {
	g.selectDB(0)
	var n int64
	g.seq++
	k := ns + "feed:" + strconv.FormatInt(g.seq, 10)
	t := g.ts()
	for left := 5 + g.r.IntN(396); left > 0; left -= 100 {
		g.begin("RPUSH", k)
		for range min(left, 100) {
			t += g.r.Int64N(600)
			g.buf = strconv.AppendInt(append(g.buf, `{"t":`...), t, 10)
			g.buf = append(g.buf, `,"ev":`...)
			g.quoted(g.pick(events))
			g.buf = append(g.buf, `,"sku":`...)
			g.quoted(g.product().sku)
			g.buf = append(g.buf, `,"src":`...)
			g.quoted(g.pick(sources))
			g.buf = append(g.buf, '}')
			g.end()
		}
		n += g.send()
	}
	return n
}

// leaderboard is a sorted set of 20 to 3000 players: small ones are
// listpacks, big ones skiplists.
func (g *gen) leaderboard() int64 {
	g.selectDB(0)
	var n int64
	g.seq++
	k := ns + "leaderboard:" + strconv.FormatInt(g.seq, 10)
	float := g.r.IntN(2) == 0
	for left := 20 + g.r.IntN(2981); left > 0; left -= 200 {
		g.begin("ZADD", k)
		for range min(left, 200) {
			if float {
				g.buf = strconv.AppendFloat(g.buf, float64(g.r.IntN(1_000_000))/100, 'f', -1, 64)
			} else {
				g.buf = strconv.AppendInt(g.buf, g.r.Int64N(1_000_000), 10)
			}
			g.end()
			g.buf = strconv.AppendInt(append(g.buf, "player:"...), g.r.Int64N(5_000_000), 10)
			g.end()
		}
		n += g.send()
	}
	return n
}

// tags is a set of tag words, or of follower ids (an intset when small).
func (g *gen) tags() int64 {
	g.selectDB(0)
	if g.r.IntN(3) == 0 {
		g.begin("SADD")
		g.key(ns + "followers:")
		for range 10 + g.r.IntN(400) {
			g.int(g.r.Int64N(5_000_000))
		}
		return g.send()
	}
	g.begin("SADD")
	g.key(ns + "tags:")
	for range 3 + g.r.IntN(150) {
		g.str(g.words[g.tagZipf.Uint64()])
	}
	return g.send()
}

// blob is 1 to 64 KiB of random bytes: an encrypted token, an image
// thumbnail — nothing compresses it.
func (g *gen) blob() int64 {
	g.selectDB(0)
	g.begin("SET")
	g.key(ns + "blob:")
	g.random(1<<10 + g.r.IntN(63<<10))
	g.end()
	return g.send()
}

// counter is an integer or a short status in db 1: page views, stock
// levels, or a rate limit that expires.
func (g *gen) counter() int64 {
	g.selectDB(1)
	g.begin("SET")
	switch g.r.IntN(3) {
	case 0:
		g.key(ns + "views:product:")
		g.int(g.r.Int64N(10_000_000))
	case 1:
		g.key(ns + "stock:")
		g.str(g.pick([]string{"in_stock", "low", "backorder", "discontinued"}))
	default:
		g.buf = append(g.buf, ns+"rate:"...)
		g.ip()
		g.seq++
		g.buf = strconv.AppendInt(append(g.buf, ':'), g.seq, 10)
		g.end()
		g.int(g.r.Int64N(1000))
		g.str("EX")
		g.int(60 + g.r.Int64N(86400))
	}
	return g.send()
}
