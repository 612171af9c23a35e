package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/correlate"
)

// TestLinkerFlags checks that the linker flags fill correlate.Config.
func TestLinkerFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    correlate.Config
		wantErr bool
	}{
		{"defaults", nil, correlate.Config{Window: 5 * time.Second, TimingMinConfidence: 0.5}, false},
		{"trace-window", []string{"--trace-window", "2s"}, correlate.Config{Window: 2 * time.Second, TimingMinConfidence: 0.5}, false},
		{"window alias", []string{"--window", "3s"}, correlate.Config{Window: 3 * time.Second, TimingMinConfidence: 0.5}, false},
		{"linker", []string{"--max-pending-spans", "100", "--timing-links=false", "--timing-min-confidence", "0.8"},
			correlate.Config{Window: 5 * time.Second, MaxPendingSpans: 100, NoTimingLinks: true, TimingMinConfidence: 0.8}, false},
		{"any confidence", []string{"--timing-min-confidence", "0"}, correlate.Config{Window: 5 * time.Second, TimingMinConfidence: -1}, false},
		{"bad confidence", []string{"--timing-min-confidence", "2"}, correlate.Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o outputFlags
			cmd := &cobra.Command{Use: "x"}
			o.register(cmd)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := o.engineConfig(cmd)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, cfg.Correlate, cmp.AllowUnexported(correlate.Config{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
