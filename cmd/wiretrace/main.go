// Command wiretrace reconstructs distributed traces from network packets:
// it replays pcap/pcapng files (and, later, captures live), turns each L7
// request and response into a span and links spans into traces using what
// the traffic already carries.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wiretrace:", err)
		os.Exit(1)
	}
}
