package drill

import (
	"errors"
	"strings"
	"testing"
)

func TestModuleFailure(t *testing.T) {
	loads := []string{"/modules/m.so (loadmodule in redis.conf in ConfigMap ns/cfg key redis.conf)"}
	for _, tc := range []struct {
		name, log string
		module    bool
		says      []string
	}{
		{name: "the module file is missing", module: true,
			log:  "1:M 27 Nov 2026 13:00:00.000 # Module /modules/m.so failed to load: /modules/m.so: cannot open shared object file: No such file or directory\n1:M 27 Nov 2026 13:00:00.000 # Can't load module from /modules/m.so: server aborting",
			says: []string{"module missing", "/modules/m.so (loadmodule in redis.conf in ConfigMap ns/cfg key redis.conf)", "cannot open shared object file"}},
		{name: "module values and no module", module: true,
			log:  "# The RDB file contains module data I can't load: no matching module type 'ReJSON-RL'",
			says: []string{"module missing", "module types ReJSON-RL", "loadmodule"}},
		{name: "not about modules", log: "# Short read or OOM loading DB. Unrecoverable error, aborting now."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := errors.New("the scratch server exited (exit code 1); its log ends:\n" + tc.log)
			got := ModuleFailure(in, loads, []string{"ReJSON-RL"})
			if !errors.Is(got, in) {
				t.Fatalf("ModuleFailure = %v, does not wrap the server's error", got)
			}
			if errors.Is(got, ErrModuleMissing) != tc.module || errors.Is(got, ErrFailed) != tc.module {
				t.Fatalf("ModuleFailure = %v: ErrModuleMissing %v, ErrFailed %v; want %v", got, errors.Is(got, ErrModuleMissing), errors.Is(got, ErrFailed), tc.module)
			}
			for _, s := range tc.says {
				if !strings.Contains(got.Error(), s) {
					t.Errorf("ModuleFailure = %q, does not say %q", got, s)
				}
			}
		})
	}
	if ModuleFailure(nil, loads, nil) != nil {
		t.Error("ModuleFailure(nil) != nil")
	}
}
