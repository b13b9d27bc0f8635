package backup_test

import (
	"testing"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/redis/info"
	"github.com/rdbak/rdbak/storage"
)

func TestIdentify(t *testing.T) {
	for _, tt := range []struct {
		info map[string]string
		want storage.Redis
	}{
		{map[string]string{"redis_version": "7.4.1"}, storage.Redis{Flavor: storage.FlavorRedis, Version: "7.4.1"}},
		{map[string]string{"redis_version": "7.2.4", "valkey_version": "8.0.1", "server_name": "valkey"},
			storage.Redis{Flavor: storage.FlavorValkey, Version: "8.0.1", RedisCompat: "7.2.4"}},
		{map[string]string{}, storage.Redis{Flavor: storage.FlavorRedis}},
	} {
		if got := backup.Identify(info.FromFields(tt.info).Server); got != tt.want {
			t.Errorf("Identify(%v) = %+v, want %+v", tt.info, got, tt.want)
		}
	}
}
