//go:build !linux

package capture

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// liveSys is empty where AF_PACKET does not exist.
type liveSys struct{}

func errLiveUnsupported() error {
	return fmt.Errorf("capture: live capture needs Linux AF_PACKET sockets, not available on %s", runtime.GOOS)
}

// OpenLive returns an error: live capture needs Linux.
func OpenLive(ctx context.Context, cfg *LiveConfig) (*Live, error) {
	return nil, errLiveUnsupported()
}

// OpenLiveWorkers returns an error: live capture needs Linux.
func OpenLiveWorkers(ctx context.Context, cfg *LiveConfig) ([]*Live, error) {
	return nil, errLiveUnsupported()
}

func (liveSys) readPacket(*Packet) error        { return errLiveUnsupported() }
func (liveSys) setReadDeadline(time.Time) error { return errLiveUnsupported() }
func (liveSys) close() error                    { return nil }
func (liveSys) stats() LiveStats                { return LiveStats{} }
