// Command accuracy is the harness behind testdata/gen/accuracy.sh, which
// measures how well wiretrace reconstructs parent edges.
//
//	accuracy serve -role a|b ...   a backend (A calls B, MariaDB, Redis; B calls MariaDB, Redis)
//	accuracy load ...              the load generator (keep-alive clients through nginx)
//	accuracy score ...             replays the captures with wiretrace and scores them against the logs
//	accuracy natsserve -role pub|consumer|down ...  the NATS scenario's services (see nats.go)
//	accuracy natsload ...          the NATS scenario's load generator
//	accuracy natsscore ...         scores the NATS scenario's runs
//
// Ground truth comes from the services' own logs (JSON lines, one per
// exchange), never from the captures: see record.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: accuracy serve|load|score|natsserve|natsload|natsscore [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveMain(os.Args[2:])
	case "load":
		err = loadMain(os.Args[2:])
	case "score":
		err = scoreMain(os.Args[2:])
	case "natsserve":
		err = natsServeMain(os.Args[2:])
	case "natsload":
		err = natsLoadMain(os.Args[2:])
	case "natsscore":
		err = natsScoreMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "accuracy:", err)
		os.Exit(1)
	}
}

// record is one line of a service's ground-truth log: one exchange (an
// inbound request or an outbound call), identified on the wire by the
// connection's two ends and the request's index on the connection (0 is
// the first request sent on it).
type record struct {
	Svc    string `json:"svc"`
	Dir    string `json:"dir"` // "in" or "out"
	Proto  string `json:"proto"`
	Client string `json:"client"` // addr:port of the connecting side
	Server string `json:"server"` // addr:port of the listening side
	Idx    int    `json:"idx"`
	ID     string `json:"id"`               // unique in the run
	Parent string `json:"parent,omitempty"` // ID of the inbound record being served (out only)
	RID    string `json:"rid,omitempty"`    // X-Request-ID received (in) or sent on the wire (out)
	Keyed  bool   `json:"keyed"`            // the call carries its parent's request id on the wire
	FF     bool   `json:"ff,omitempty"`     // fire-and-forget: made after the response was sent
	Setup  bool   `json:"setup,omitempty"`  // connection set-up, not part of a request
	Name   string `json:"name,omitempty"`
}
