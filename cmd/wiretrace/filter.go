package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

// filterLinks maps --link values to link types.
var filterLinks = map[string]capture.LinkType{
	"ethernet": capture.LinkTypeEthernet,
	"sll":      capture.LinkTypeLinuxSLL,
	"sll2":     capture.LinkTypeLinuxSLL2,
	"raw":      capture.LinkTypeRaw,
	"null":     capture.LinkTypeNull,
}

func newFilterCmd() *cobra.Command {
	var (
		link    string
		d, ddd  bool
		snaplen int
	)
	cmd := &cobra.Command{
		Use:   "filter [flags] EXPRESSION...",
		Short: "Compile a tcpdump filter expression to classic BPF and print it",
		Long: `filter compiles a pcap-filter(7) expression, as tcpdump and replay --filter
accept it, for one link type and prints the classic BPF program like
tcpdump -d, or like tcpdump -ddd (count, then "code jt jf k" lines) for
SO_ATTACH_FILTER and tcpdump -F style tools.`,
		Args:         cobra.MinimumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			lt, ok := filterLinks[link]
			if !ok {
				return fmt.Errorf("filter: --link %q: want ethernet, sll, sll2, raw or null", link)
			}
			prog, err := filter.Compile(strings.Join(args, " "), lt, snaplen)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if ddd {
				raw, err := bpf.Assemble(prog)
				if err != nil {
					return fmt.Errorf("filter: %w", err)
				}
				_, err = fmt.Fprint(out, filter.Ddd(raw))
				return err
			}
			_ = d // -d is the default output
			_, err = fmt.Fprint(out, filter.Disassemble(prog))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&link, "link", "ethernet", "link type: ethernet, sll, sll2, raw or null")
	f.BoolVarP(&d, "d", "d", true, "print the program like tcpdump -d (the default)")
	f.BoolVar(&ddd, "ddd", false, "print the program like tcpdump -ddd")
	f.IntVarP(&snaplen, "snaplen", "s", filter.DefaultSnaplen, "bytes accepted packets keep (the program's return value)")
	return cmd
}
