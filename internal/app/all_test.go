package app

import (
	"errors"
	"testing"
)

func TestAllErr(t *testing.T) {
	boom := errors.New("boom")
	after := &AfterError{Target: "b", ID: "x", Err: boom}
	tests := []struct {
		name      string
		outs      []Outcome
		wantErr   bool
		wantAfter bool // errors.As finds an AfterError: exit 5
	}{
		{"all good", []Outcome{outcome("a", "1", 0, nil), outcome("b", "2", 0, nil)}, false, false},
		{"one failed", []Outcome{outcome("a", "", 0, boom), outcome("b", "2", 0, nil)}, true, false},
		{"after only", []Outcome{outcome("a", "1", 0, nil), outcome("b", "x", 0, after)}, true, true},
		{"failed outweighs after", []Outcome{outcome("a", "", 0, boom), outcome("b", "x", 0, after)}, true, false},
		{"none", nil, false, false},
	}
	for _, tt := range tests {
		err := AllErr(tt.outs)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if got := errors.As(err, new(*AfterError)); got != tt.wantAfter {
			t.Errorf("%s: AfterError found %v, want %v (%v)", tt.name, got, tt.wantAfter, err)
		}
	}
}
