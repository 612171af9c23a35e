package main

import (
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wiretrace",
		Short: "Distributed traces from network packets alone",
		Long: `wiretrace reconstructs distributed traces from network packets: no SDK,
no code change, no trace id injected. It turns each L7 request and response
into a span and links spans into traces by X-Request-ID, trace headers and
TCP sequence numbers.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every command with --config reads it before running.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyConfigFile(cmd) },
	}
	root.AddCommand(newReplayCmd(), newCaptureCmd(), newFilterCmd(), newProtocolsCmd(), newVersionCmd(), newServeCmd(), newConfigCmd(), newManCmd(), newAssembleCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date, Go version and optional parts",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return writeVersion(cmd.OutOrStdout()) },
	}
}
