package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds the storage checks of one /readyz request.
const readyTimeout = 5 * time.Second

func (d *daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.m.reg, promhttp.HandlerOpts{Registry: d.m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	return mux
}

// readyz answers 200 when the daemon can do its work: a config is loaded
// (always, once Run got this far), every storage answers, and with leader
// election the leader is known. Otherwise 503, with one line per problem.
func (d *daemon) readyz(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if d.stopping.Load() {
		problems = append(problems, "shutting down")
	}
	d.mu.Lock()
	st, el := d.cur, d.elector
	d.mu.Unlock()
	if st.cfg.LeaderElection.Enabled && (el == nil || el.Leader() == "") {
		problems = append(problems, "leader election: no leader known yet")
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	for _, repo := range st.repos {
		if err := repo.Check(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(problems, "\n"))
		return
	}
	fmt.Fprintln(w, "ok")
}
