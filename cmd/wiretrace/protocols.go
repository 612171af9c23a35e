package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/protocols/plugin"
)

func newProtocolsCmd() *cobra.Command {
	var plugins []string
	cmd := &cobra.Command{
		Use:   "protocols [--plugin FILE.wasm]...",
		Short: "List the L7 protocols wiretrace recognises",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := outputFlags{plugins: plugins, pluginTimeout: plugin.DefaultTimeout}
			if err := o.openPlugins(); err != nil {
				return err
			}
			defer o.closePlugins()
			reg := (&engine.Config{Plugins: o.loaded}).Registry()
			for _, p := range reg.Protocols() {
				ports := make([]string, len(p.Ports))
				for i, port := range p.Ports {
					ports[i] = fmt.Sprint(port)
				}
				transport := "tcp"
				switch {
				case p.New != nil && p.NewDatagram != nil:
					transport = "tcp,udp"
				case p.New == nil:
					transport = "udp"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-11s %-8s ports %-30s %s\n", p.Name, transport, strings.Join(ports, ","), p.Summary)
			}
			for _, p := range o.loaded {
				if p.Inspects() {
					fmt.Fprintf(cmd.OutOrStdout(), "plugin %s (%s) inspects every message\n", p.Name(), p.File())
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&plugins, "plugin", nil, "also list what the WebAssembly plugin `FILE.wasm` adds (repeatable)")
	return cmd
}
