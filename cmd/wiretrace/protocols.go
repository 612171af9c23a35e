package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
)

func newProtocolsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "protocols",
		Short: "List the L7 protocols wiretrace recognises",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range engine.Registry().Protocols() {
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
			return nil
		},
	}
}
