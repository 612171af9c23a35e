package plugin_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
	"github.com/wiretrace/wiretrace/protocols/plugin"
)

// Load a plugin (built with "make plugins") and replay a capture with it:
// the plugin's link key joins the payment and its ledger entry into one
// trace. The plugin is opened once and may serve several pipelines; it is
// closed after them.
func ExampleOpen() {
	ctx := context.Background()
	p, err := plugin.Open(ctx, "bin/txnjson.wasm", &plugin.Config{Timeout: 20 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	src, err := capture.OpenFile("testdata/plugin_txn.pcap", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	sink := jsonl.New(os.Stdout)
	pl, err := wiretrace.New(&wiretrace.Config{Plugins: []*plugin.Plugin{p}}, sink)
	if err != nil {
		log.Fatal(err)
	}
	if err := pl.Run(ctx, src); err != nil {
		log.Fatal(err)
	}
	if err := pl.Close(); err != nil {
		log.Fatal(err)
	}
	sink.Close()
	st := p.Stats()
	log.Printf("plugin %s: %d calls, %d timeouts, %d traps", p.Name(), st.Calls, st.Timeouts, st.Traps)
}
