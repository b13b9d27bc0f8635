package app

import (
	"os"
	"runtime/debug"

	"github.com/rdbak/rdbak/internal/footprint"
)

// GCPercent and DaemonGCPercent are GOGC unless the environment sets one
// (README, Memory). A backup's, restore's or verify's heap is almost all
// long-lived buffers without pointers (frames, readahead, S3 parts), so
// collecting at 5 % of it costs little (24 collections per GiB to S3, 16 at
// 25) and held 3-5 MiB less than 25 (at Go's 100 the heap grew toward twice
// the buffers). The daemon allocates every backup's buffers anew: at 5 it
// spent 0.021 CPU s per backup against 0.015 at 25 (hack/bench-fleet.sh), so
// it keeps 25.
const (
	GCPercent       = 5
	DaemonGCPercent = 25
)

// TuneProcess is the first thing rdbak's main does: GOGC for a run
// (GCPercent), then the executable's pages that package initialisation
// touched are released (footprint.ReleaseStartupPages): 10-11 MiB off the
// peak RSS of a backup. A failed release costs only that memory, so it is
// not reported.
func TuneProcess() {
	SetGCPercent(GCPercent)
	_, _ = footprint.ReleaseStartupPages()
}

// SetGCPercent sets GOGC to percent unless the environment sets it.
func SetGCPercent(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}
