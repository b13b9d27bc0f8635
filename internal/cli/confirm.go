package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Prompt is where a destructive command asks for confirmation.
type Prompt struct {
	In       io.Reader
	Terminal bool // In is a terminal: without one, only --yes confirms
	Out      io.Writer
}

// Confirm asks for the workload's name ("statefulset ns/name": the name
// alone) to be typed; without a terminal it is a usage error asking for
// --yes.
func (p Prompt) Confirm(workload string) error {
	if !p.Terminal {
		return usagef("this replaces the data of a running Redis: pass --yes to confirm (see the plan above, or --dry-run)")
	}
	name := workload[strings.LastIndex(workload, "/")+1:]
	fmt.Fprintf(p.Out, "Type %q to replace its data: ", name)
	line, _ := bufio.NewReader(p.In).ReadString('\n')
	if strings.TrimSpace(line) != name {
		return errors.New("not confirmed; nothing was changed")
	}
	return nil
}
