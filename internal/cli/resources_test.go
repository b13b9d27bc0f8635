package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
)

func TestRestorePodFlags(t *testing.T) {
	tests := []struct {
		args                    []string
		wantRequests, wantLimit string // String() of each, when no error
		wantErr                 string
	}{
		{args: nil},
		{args: []string{"--restore-requests", "cpu=100m, memory=64Mi", "--restore-limits", "memory=256Mi,cpu=1,ephemeral-storage=1Gi"},
			wantRequests: "cpu=100m,memory=64Mi", wantLimit: "cpu=1,ephemeral-storage=1Gi,memory=256Mi"},
		{args: []string{"--restore-limits", "gpu=1"}, wantErr: `"--restore-limits" flag: unknown resource "gpu"`},
		{args: []string{"--restore-limits", ""}, wantErr: `unknown resource ""`},
		{args: []string{"--restore-requests", "memory"}, wantErr: `"--restore-requests" flag: memory has no quantity`},
		{args: []string{"--restore-limits", "memory=lots"}, wantErr: `invalid quantity "lots" for memory`},
		{args: []string{"--restore-limits", "cpu=-1"}, wantErr: `invalid quantity "-1" for cpu`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var r corev1.ResourceRequirements
			cmd := &cobra.Command{Use: "restore", RunE: func(*cobra.Command, []string) error { return nil }, SilenceErrors: true, SilenceUsage: true}
			AddRestorePodFlags(cmd, &r)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := (resourceList{&r.Requests}).String(); got != tt.wantRequests {
				t.Errorf("requests %q, want %q", got, tt.wantRequests)
			}
			if got := (resourceList{&r.Limits}).String(); got != tt.wantLimit {
				t.Errorf("limits %q, want %q", got, tt.wantLimit)
			}
		})
	}
}
