package drill

import (
	"errors"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/storage"
)

func TestChoose(t *testing.T) {
	r62 := Server{Path: "/r62", Flavor: "redis", Version: "6.2.16"}
	r70 := Server{Path: "/r70", Flavor: "redis", Version: "7.0.15"}
	r74 := Server{Path: "/r74", Flavor: "redis", Version: "7.4.1"}
	v80 := Server{Path: "/v80", Flavor: "valkey", Version: "8.0.1"}
	r99 := Server{Path: "/r99", Flavor: "redis", Version: "99.0.0"}
	all := []Server{r99, v80, r74, r70, r62}
	man := func(flavor, version string, rdb int, modules ...string) *storage.Manifest {
		return &storage.Manifest{ID: "x", Redis: storage.Redis{Flavor: flavor, Version: version},
			RDB: storage.RDB{Magic: "REDIS", Version: rdb, Modules: modules}}
	}
	for _, tc := range []struct {
		name       string
		m          *storage.Manifest
		candidates []Server
		want       string
		err        string
	}{
		{name: "the same version", m: man("redis", "7.0.15", 10), candidates: all, want: "/r70"},
		{name: "the oldest not older", m: man("redis", "6.0.9", 9), candidates: all, want: "/r62"},
		{name: "same minor wins over older", m: man("redis", "7.4.0", 12), candidates: all, want: "/r74"},
		{name: "valkey from valkey", m: man("valkey", "8.0.1", 11), candidates: all, want: "/v80"},
		{name: "redis 7.2 backup on valkey when no 7.2", m: man("redis", "7.2.5", 11), candidates: []Server{r62, v80}, want: "/v80"},
		{name: "newer than every server", m: man("redis", "8.6.0", 13), candidates: all,
			err: "no scratch server loads the backup"},
		{name: "no candidates", m: man("redis", "7.0.15", 10), err: "no redis-server or valkey-server"},
		{name: "modules", m: man("redis", "7.4.1", 12, "ReJSON-RL"), candidates: all, err: "module types ReJSON-RL"},
		{name: "an older server when nothing newer", m: man("redis", "7.2.4", 11), candidates: []Server{r62, r70, v80, r74}, want: "/r74"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, detail, err := Choose(tc.m, tc.candidates)
			if tc.err != "" {
				if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Choose error = %v, want ErrFailed with %q", err, tc.err)
				}
				return
			}
			if err != nil || got.Path != tc.want || detail == "" {
				t.Fatalf("Choose = %v, %q, %v; want %s", got, detail, err, tc.want)
			}
		})
	}
}
