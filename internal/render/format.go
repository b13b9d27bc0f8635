package render

import (
	"fmt"
	"time"
)

// Age is d as kubectl's AGE column shows it: 45s, 12m, 5h, 3d.
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// OrDash is s, or - for an empty table cell.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
