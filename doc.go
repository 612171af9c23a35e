// Package wiretrace rebuilds distributed traces from packets: it is the
// pipeline of the wiretrace command, for programs that embed it.
//
// A Pipeline decodes packets (capture → decode), reassembles TCP, parses
// protocol messages (protocols and its subpackages), pairs requests with
// responses into spans and links spans into traces (correlate), which it
// writes to a correlate.Sink such as correlate/jsonl or correlate/tree, or
// the embedder's own.
//
// Packets come from a capture.Source (Run: pcap and pcapng files with
// capture.OpenFile, live capture with capture.OpenLive, several at once
// with capture.Merge) or from the embedder's own source (Packet). Packet
// time is the pipeline's only clock: replaying a file twice gives the same
// traces, byte for byte; during quiet periods of a live source, call
// Advance on a ticker so that idle connections end and traces are written.
// Close writes what is still open.
//
//	p, err := wiretrace.New(nil, jsonl.New(os.Stdout))
//	...
//	err = p.Run(ctx, src)
//	err = p.Close()
//
// Config gathers the stages' Config structs (nil and zero fields mean the
// defaults); Config.Protocols registers extra protocol parsers, described
// by a protocols.Protocol, after the built-in ones; Config.TLSKeys (an NSS
// key log read by OpenKeyLog) decrypts TLS sessions into those parsers.
//
// A Pipeline is used from one goroutine and starts none. The packages
// under cmd/ are the command line tool and not part of the API.
package wiretrace
