package redis

import (
	"slices"
	"strings"
	"testing"
)

// TestTablesSorted checks that the name tables are sorted and without
// duplicates (lookups use binary search), and that every container
// command's subcommands name a container.
func TestTablesSorted(t *testing.T) {
	for name, list := range map[string][]string{"commands": commands[:], "subcommands": subcommands[:]} {
		if !slices.IsSorted(list) {
			t.Errorf("%s is not sorted", name)
		}
		if len(slices.Compact(slices.Clone(list))) != len(list) {
			t.Errorf("%s has duplicates", name)
		}
	}
	for _, s := range subcommands {
		c, _, _ := strings.Cut(s, " ")
		if !isContainer(c) {
			t.Errorf("%s: %s is not a container command", s, c)
		}
		if _, ok := find(commands[:], []byte(c)); !ok {
			t.Errorf("%s: %s is not a command", s, c)
		}
	}
}
