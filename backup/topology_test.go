package backup

import (
	"errors"
	"strings"
	"testing"
)

func TestAgreeOnMaster(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name    string
		answers []SentinelAnswer
		want    string
		votes   int
		wantErr string
	}{
		{"all agree", []SentinelAnswer{{"s1", "a:1", 2, nil}, {"s2", "a:1", 2, nil}, {"s3", "a:1", 2, nil}}, "a:1", 3, ""},
		{"one unreachable, quorum met", []SentinelAnswer{{"s1", "a:1", 2, nil}, {"s2", "", 0, down}, {"s3", "a:1", 2, nil}}, "a:1", 2, ""},
		{"mid-failover minority", []SentinelAnswer{{"s1", "a:1", 2, nil}, {"s2", "b:1", 2, nil}, {"s3", "b:1", 2, nil}}, "b:1", 2, ""},
		{"quorum not met", []SentinelAnswer{{"s1", "a:1", 2, nil}, {"s2", "", 0, down}, {"s3", "", 0, down}}, "", 0, "quorum 2 of 1 answering"},
		{"split", []SentinelAnswer{{"s1", "a:1", 1, nil}, {"s2", "b:1", 1, nil}}, "", 0, "s1 names a:1; s2 names b:1"},
		{"none answer", []SentinelAnswer{{"s1", "", 0, down}, {"s2", "", 0, down}}, "", 0, "no Sentinel answered: s1: connection refused; s2: connection refused; check the Sentinel addresses"},
		{"largest quorum wins", []SentinelAnswer{{"s1", "a:1", 1, nil}, {"s2", "a:1", 3, nil}, {"s3", "a:1", 1, nil}}, "a:1", 3, ""},
		{"largest quorum not met", []SentinelAnswer{{"s1", "a:1", 1, nil}, {"s2", "a:1", 3, nil}}, "", 0, "quorum 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, votes, err := AgreeOnMaster(tt.answers)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNoAgreement) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrNoAgreement containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || votes != tt.votes {
				t.Fatalf("got %q, %d votes, %v; want %q, %d votes", got, votes, err, tt.want, tt.votes)
			}
		})
	}
}

func TestChooseSource(t *testing.T) {
	master := Node{Addr: "m:6379", Offset: 10_000_000}
	rep := func(addr string, offset int64, prio int) Node {
		return Node{Addr: addr, LinkUp: true, Offset: offset, Priority: prio}
	}
	broken := rep("r2:6379", 10_000_000, 100)
	broken.LinkUp = false
	flagged := rep("r3:6379", 10_000_000, 100)
	flagged.Problem = "flagged s_down by the Sentinels"
	tests := []struct {
		name       string
		replicas   []Node
		o          ChooseOptions
		want       string
		wantMaster bool
		reason     []string
	}{
		{"least lag wins", []Node{rep("r1:6379", 9_999_000, 100), rep("r2:6379", 9_999_900, 100)}, ChooseOptions{}, "r2:6379", false,
			[]string{"replica r2:6379", "100 bytes behind", "least behind of 2 healthy replicas"}},
		{"ties by address", []Node{rep("r2:6379", 10_000_000, 100), rep("r1:6379", 10_000_000, 100)}, ChooseOptions{}, "r1:6379", false, nil},
		{"link down skipped", []Node{broken, rep("r1:6379", 9_000_000, 100)}, ChooseOptions{MaxLag: 2_000_000}, "r1:6379", false,
			[]string{"r2:6379: master link down"}},
		{"flagged skipped", []Node{flagged}, ChooseOptions{}, "m:6379", true, []string{"no replica qualifies", "flagged s_down"}},
		{"lag beyond bound", []Node{rep("r1:6379", 1, 100)}, ChooseOptions{}, "m:6379", true, []string{"9999999 bytes behind the master (more than 1048576)"}},
		{"priority 0 passed over", []Node{rep("r0:6379", 10_000_000, 0), rep("r1:6379", 9_999_000, 100)}, ChooseOptions{}, "r1:6379", false,
			[]string{"r0:6379: replica-priority 0, used only when"}},
		{"priority 0 when nothing else", []Node{rep("r0:6379", 10_000_000, 0), broken}, ChooseOptions{}, "r0:6379", false,
			[]string{"replica-priority 0, the only kind", "r2:6379: master link down"}},
		{"no replicas", nil, ChooseOptions{}, "m:6379", true, []string{"it has no replicas"}},
		{"prefer master", []Node{rep("r1:6379", 10_000_000, 100)}, ChooseOptions{PreferMaster: true}, "m:6379", true, []string{"as asked"}},
		{"replica ahead of a stale master offset", []Node{rep("r1:6379", 10_000_100, 100)}, ChooseOptions{}, "r1:6379", false, []string{"0 bytes behind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ChooseSource(master, tt.replicas, tt.o)
			if c.Node.Addr != tt.want || c.Master != tt.wantMaster {
				t.Fatalf("chose %s (master %v), want %s (master %v); reason: %s", c.Node.Addr, c.Master, tt.want, tt.wantMaster, c.Reason)
			}
			for _, r := range tt.reason {
				if !strings.Contains(c.Reason, r) {
					t.Errorf("reason %q lacks %q", c.Reason, r)
				}
			}
		})
	}
}
