package app

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestModuleFailureOnEachServer: what each server logs when it cannot
// load a module it is told to load is recognised as a missing module (the
// reason a scratch pod without the target's module volume fails with).
func TestModuleFailureOnEachServer(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		mod := filepath.Join(t.TempDir(), "absent", "rdbakmod.so")
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, s.Path, "--port", strconv.Itoa(testenv.FreePort(t)), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loadmodule", mod).CombinedOutput()
		if err == nil || ctx.Err() != nil {
			t.Fatalf("%s with a module it cannot load: %v (%v), want it to exit with an error\n%s", s.Name, err, ctx.Err(), out)
		}
		got := drill.ModuleFailure(errors.New("the scratch server exited; its log ends:\n"+string(out)), []string{mod + " (loadmodule in the test)"}, nil)
		if !errors.Is(got, drill.ErrModuleMissing) || !strings.Contains(got.Error(), mod) {
			t.Errorf("ModuleFailure of %s's log = %v, want module missing naming %s", s.Name, got, mod)
		}
	})
}
