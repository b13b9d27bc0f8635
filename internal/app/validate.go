package app

import (
	"errors"

	"github.com/rdbak/rdbak/internal/config"
)

// ValidateResult is rdbak config validate's result for one file.
type ValidateResult struct {
	File     string   `json:"file"`
	OK       bool     `json:"ok"`
	Targets  int      `json:"targets"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error,omitempty"`
}

// ValidateConfigs loads each config file and returns one result per file,
// and the errors of those that do not load (each naming its file and
// line) joined as a usage error.
func ValidateConfigs(files []string) ([]ValidateResult, error) {
	var errs []error
	results := make([]ValidateResult, 0, len(files))
	for _, f := range files {
		r := ValidateResult{File: f, Warnings: []string{}}
		c, err := config.Load(f)
		if err != nil {
			errs = append(errs, err)
			r.Error = err.Error()
		} else {
			r.OK, r.Targets, r.Warnings = true, len(c.Targets), append(r.Warnings, c.Warnings()...)
		}
		results = append(results, r)
	}
	if len(errs) > 0 {
		return results, UsageError{Err: errors.Join(errs...)}
	}
	return results, nil
}
