package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// kubeRestoreOpts are the flags of a restore into Kubernetes.
type kubeRestoreOpts struct {
	app.RestoreOptions
	dryRun, yes   bool
	asJSON        bool
	confirmInput  io.Reader
	confirmPrompt bool // stdin is a terminal
}

// restoreKube restores m into the Redis that t names: plan, print,
// confirm, run.
func (g *globals) restoreKube(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, kf *kubeFlags, o kubeRestoreOpts) error {
	r, err := g.cliApp(kf.flags).PlanRestore(ctx, repo, m, t, o.RestoreOptions)
	if err != nil {
		return err
	}
	defer r.Close()
	p := r.Plan
	refused := p.Refused()
	if o.dryRun || refused != nil {
		if err := g.printPlan(p, o.asJSON); err != nil {
			return err
		}
		return refused
	}
	if !o.asJSON {
		if err := g.printPlan(p, false); err != nil {
			return err
		}
	}
	if !o.yes {
		if err := confirm(o, g.stderr, p.Workload); err != nil {
			return err
		}
	}
	if err := r.Run(ctx); err != nil {
		return err
	}
	if o.asJSON {
		return g.writeResult(p)
	}
	_, err = fmt.Fprintf(g.stdout, "restored %s/%s into %s; the previous data is kept as %s\n", m.Target, m.ID, p.Pod, strings.Join(p.PreRestore, ", "))
	return err
}

func (g *globals) printPlan(p *restore.Plan, asJSON bool) error {
	if asJSON {
		return g.writeResult(p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Restore plan\n  backup:      %s\n", p.Summary())
	fmt.Fprintf(&b, "  into:        %s (%s), Redis %s, %s\n  strategy:    %s\n  checks:\n", p.Pod, p.Workload, p.Redis, p.Persist, p.Strategy)
	for _, f := range p.Findings {
		mark := "ok     "
		if f.Refuse {
			mark = "REFUSED"
		}
		fmt.Fprintf(&b, "    %s %s: %s\n", mark, f.Check, f.Detail)
	}
	b.WriteString("  steps:\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "    %d. %s\n", i+1, s)
	}
	_, err := io.WriteString(g.stdout, b.String())
	return err
}

// confirm asks on a terminal for the workload's name ("statefulset
// ns/name": the name alone); elsewhere --yes is required.
func confirm(o kubeRestoreOpts, w io.Writer, workload string) error {
	if !o.confirmPrompt {
		return usagef("this replaces the data of a running Redis: pass --yes to confirm (see the plan above, or --dry-run)")
	}
	name := workload[strings.LastIndex(workload, "/")+1:]
	fmt.Fprintf(w, "Type %q to replace its data: ", name)
	line, _ := bufio.NewReader(o.confirmInput).ReadString('\n')
	if strings.TrimSpace(line) != name {
		return errors.New("not confirmed; nothing was changed")
	}
	return nil
}

// stdinIsTerminal reports whether a confirmation can be asked.
func stdinIsTerminal() bool { return isTerminal(os.Stdin) }
