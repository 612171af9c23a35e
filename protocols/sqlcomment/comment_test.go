package sqlcomment_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/sqlcomment"
)

const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

func l(k, v string) protocols.Attr { return protocols.String(k, v) }

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   *protocols.Config
		query string
		in    []protocols.Attr
		want  []protocols.Attr
	}{
		{name: "no comment", query: "SELECT 1"},
		{
			name:  "sqlcommenter",
			query: "SELECT * FROM t /*action='%2Fparam*d',controller='index',traceparent='" + tp + "',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f067aa0ba902b7'*/",
			want:  []protocols.Attr{l(protocols.LinkTraceparent, tp), l(protocols.LinkTracestate, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")},
		},
		{
			name:  "key=value and key: value",
			query: "/* request_id=abc-1 */ SELECT 1 -- traceparent: " + tp + "\nFROM dual",
			want:  []protocols.Attr{l(protocols.LinkXRequestID, "abc-1"), l(protocols.LinkTraceparent, tp)},
		},
		{
			name:  "hash comment and request id spellings",
			query: "SELECT 1 # X-Request-ID=\"r-9\"",
			want:  []protocols.Attr{l(protocols.LinkXRequestID, "r-9")},
		},
		{
			name:  "configured request-id header",
			cfg:   &protocols.Config{XRequestIDHeaders: []string{"X-Correlation-ID"}},
			query: "SELECT 1 /* x_correlation_id='c-1', requestid='ignored' */",
			want:  []protocols.Attr{l(protocols.LinkXRequestID, "c-1")},
		},
		{
			name:  "inside a string literal is not a comment",
			query: "SELECT '/* traceparent=" + tp + " */', \"-- x_request_id=1\" FROM t",
		},
		{
			name:  "executable comment and hint are SQL",
			query: "SELECT /*+ traceparent=x */ 1 /*!50001 request_id=2 */",
		},
		{
			name:  "first wins and existing links are kept",
			query: "SELECT 1 /* traceparent='a', traceparent='b', x-request-id=new */",
			in:    []protocols.Attr{l(protocols.LinkXRequestID, "old")},
			want:  []protocols.Attr{l(protocols.LinkXRequestID, "old"), l(protocols.LinkTraceparent, "a")},
		},
		{
			name:  "unterminated comment",
			query: "SELECT 1 /* traceparent='" + tp,
			want:  []protocols.Attr{l(protocols.LinkTraceparent, tp)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sqlcomment.Extract(tc.query, tc.cfg, tc.in)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractAllocs(t *testing.T) {
	links := make([]protocols.Attr, 0, 4)
	q := "SELECT * FROM orders WHERE id = 1"
	if n := testing.AllocsPerRun(100, func() { links = sqlcomment.Extract(q, nil, links[:0]) }); n != 0 {
		t.Errorf("%v allocations for a query without comments", n)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("SELECT 1 /*traceparent='" + tp + "'*/")
	f.Add("SELECT '/*' -- x=1\n # a: 'b")
	f.Fuzz(func(t *testing.T, q string) {
		for _, a := range sqlcomment.Extract(q, nil, nil) {
			if a.Str == "" || len(a.Str) > sqlcomment.MaxValueLen*3 {
				t.Fatalf("bad value %q", a.Str)
			}
		}
	})
}

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		in, want   []protocols.Attr
	}{
		{name: "empty"},
		{name: "no pairs", body: "find open orders"},
		{name: "sqlcommenter", body: "traceparent='" + tp + "',x-request-id='r%2D1'",
			want: []protocols.Attr{l(protocols.LinkTraceparent, tp), l(protocols.LinkXRequestID, "r-1")}},
		{name: "bare pairs", body: "traceparent=" + tp + " request-id: r-2",
			want: []protocols.Attr{l(protocols.LinkTraceparent, tp), l(protocols.LinkXRequestID, "r-2")}},
		{name: "present key kept", body: "traceparent=x", in: []protocols.Attr{l(protocols.LinkTraceparent, tp)},
			want: []protocols.Attr{l(protocols.LinkTraceparent, tp)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sqlcomment.Pairs(tc.body, nil, tc.in)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
