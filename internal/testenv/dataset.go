package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FillAllTypes writes a dataset with every core value type, in several
// encodings, into dbs 0, 1 and 3 of r: strings (integer, short, LZF-friendly
// and incompressible big values), lists, hashes, sets (intset and hashtable),
// sorted sets, streams with a consumer group and pending entries, and keys
// with expiries far in the future. scale multiplies the key counts. Filling
// the same server again changes the data (lists and streams grow).
func FillAllTypes(t testing.TB, r *Redis, scale int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, db := range []int{0, 1, 3} {
		c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DB: db})
		p := c.Pipeline()
		for i := 0; i < 50*scale; i++ {
			p.Set(ctx, fmt.Sprintf("int:%d", i), i*7919, 0)
			p.Set(ctx, fmt.Sprintf("str:%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("ab", i%40)), 0)
			p.Set(ctx, fmt.Sprintf("ttl:%d", i), "expiring", time.Duration(24+i)*time.Hour)
			p.RPush(ctx, fmt.Sprintf("list:%d", i%10), i, fmt.Sprintf("elem-%d", i))
			p.HSet(ctx, fmt.Sprintf("hash:%d", i%10), fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
			p.SAdd(ctx, fmt.Sprintf("intset:%d", i%5), i)
			p.SAdd(ctx, fmt.Sprintf("set:%d", i%5), fmt.Sprintf("member-%d", i))
			p.ZAdd(ctx, fmt.Sprintf("zset:%d", i%5), redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m%d", i)})
			p.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("stream:%d", i%3), Values: []any{"n", i, "payload", fmt.Sprintf("p%d", i)}})
		}
		// Large collections switch to hashtable / quicklist encodings.
		for i := 0; i < 600; i++ {
			p.HSet(ctx, "bighash", fmt.Sprintf("field-%d", i), strings.Repeat("x", i%90))
			p.RPush(ctx, "biglist", strings.Repeat("y", 1+i%100))
			p.ZAdd(ctx, "bigzset", redis.Z{Score: float64(i), Member: fmt.Sprintf("member-%d", i)})
			p.SAdd(ctx, "bigset", fmt.Sprintf("s-%d", i))
		}
		big := make([]byte, 256<<10)
		for i := range big {
			big[i] = byte(rnd.UintN(256))
		}
		p.Set(ctx, "big:random", big, 0)
		p.Set(ctx, "big:text", strings.Repeat("compressible text ", 20000), 0)
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("fill db %d: %v", db, err)
		}
		if err := c.XGroupCreate(ctx, "stream:0", "group", "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			t.Fatalf("fill db %d: XGROUP CREATE: %v", db, err)
		}
		if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "group", Consumer: "alice", Streams: []string{"stream:0", ">"}, Count: 5}).Err(); err != nil {
			t.Fatalf("fill db %d: XREADGROUP: %v", db, err)
		}
		_ = c.Close()
	}
}
