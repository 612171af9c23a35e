package mqtt_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	pt "github.com/wiretrace/wiretrace/protocols/internal/parsertest"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// The shared harness (protocols/internal/parsertest) under the names this
// package's tests use.
type step = pt.Step

var (
	feed       = pt.Feed
	gap        = pt.Gap
	end        = pt.End
	runParser  = pt.Run
	attr       = pt.Attr
	links      = pt.Links
	fuzzParser = pt.FuzzParser
)

func loadFixtures(tb testing.TB) []pt.Fixture {
	tb.Helper()
	return pt.LoadFixtures(tb)
}
