// Package api serves wiretrace's span store over HTTP: Jaeger's query API
// (the JSON the Jaeger UI and Grafana's Jaeger data source read) and trace
// completion for OpenTelemetry traces.
//
// Routes:
//
//	GET  /api/traces/{traceID}                 one trace; with an APM configured, its spans merged in
//	GET  /api/traces?service=&operation=&tags=&start=&end=&lookback=&limit=&minDuration=&maxDuration=
//	GET  /api/services                         service names
//	GET  /api/services/{service}/operations    operation names of a service
//	GET  /api/operations?service=&spanKind=    operations with their span kind (newer Jaeger UIs)
//	GET  /api/dependencies?endTs=&lookback=    calls between services (ms)
//	POST /api/v1/traces/complete               OTLP/JSON trace in, the same trace with wiretrace's spans out
//
// Times in Jaeger queries are Unix microseconds (start, end) or
// milliseconds (endTs, lookback of dependencies); durations are Go
// durations ("20ms"), lookback also accepts days ("2d"). Without start
// and end, a search covers lookback (default 1h) back from the newest span
// the store has seen: packet time, so replays of old captures are found.
// No endpoint writes to the store.
package api
