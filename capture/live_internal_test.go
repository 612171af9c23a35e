package capture

import "testing"

func TestSymmetricFanout(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		want bool
	}{
		{"6.18.44-fc-v657", true},
		{"4.7.0", true},
		{"4.19.0-27-amd64", true},
		{"4.6.7", false},
		{"4.4.0-210-generic", false},
		{"3.10.0-1160.el7.x86_64", false},
		{"3.2.0", false},
		{"5.4", true},
		{"weird", true},
	} {
		if got := symmetricFanout(tc.rel); got != tc.want {
			t.Errorf("symmetricFanout(%q) = %v, want %v", tc.rel, got, tc.want)
		}
	}
}
