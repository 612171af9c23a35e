package main

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFilterCmd(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr bool
	}{
		{"d", []string{"ip"}, "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n", false},
		{"ddd sll2 snaplen", []string{"--link", "sll2", "--ddd", "-s", "96", "ip6"}, "4\n40 0 0 0\n21 0 1 34525\n6 0 0 96\n6 0 0 0\n", false},
		{"explicit d", []string{"-d", "arp"}, "(000) ldh      [12]\n(001) jeq      #0x806           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n", false},
		{"bad link", []string{"--link", "fddi", "ip"}, "", true},
		{"bad expression", []string{"tcp", "prot", "80"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newFilterCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if diff := cmp.Diff(tt.want, out.String()); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			}
		})
	}
}
