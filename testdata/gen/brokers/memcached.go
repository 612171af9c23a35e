package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// runMemcached: gomemcache over TCP (text protocol): set, get, get of
// several keys, add of an existing key, increment, touch, compare and
// swap, delete and a miss; then the binary protocol over TCP (set, getq
// of a miss and a hit, noop) and the text protocol over UDP (set, get).
func runMemcached(ctx context.Context, addr string) error {
	mc := memcache.New(addr)
	mc.Timeout = 5 * time.Second
	mc.MaxIdleConns = 1
	steps := []func() error{
		func() error { return mc.Set(&memcache.Item{Key: "user:1", Value: []byte("alice"), Expiration: 60}) },
		func() error { return mc.Set(&memcache.Item{Key: "hits", Value: []byte("10")}) },
		func() error { _, err := mc.Get("user:1"); return err },
		func() error { _, err := mc.GetMulti([]string{"user:1", "user:2", "hits"}); return err },
		func() error {
			if err := mc.Add(&memcache.Item{Key: "user:1", Value: []byte("bob")}); !errors.Is(err, memcache.ErrNotStored) {
				return fmt.Errorf("add of an existing key: %v", err)
			}
			return nil
		},
		func() error { _, err := mc.Increment("hits", 5); return err },
		func() error { return mc.Touch("user:1", 120) },
		func() error {
			it, err := mc.Get("user:1")
			if err != nil {
				return err
			}
			it.Value = []byte("alice2")
			return mc.CompareAndSwap(it)
		},
		func() error { return mc.Delete("user:1") },
		func() error {
			if _, err := mc.Get("user:1"); !errors.Is(err, memcache.ErrCacheMiss) {
				return fmt.Errorf("get after delete: %v", err)
			}
			return nil
		},
	}
	for i, f := range steps {
		if err := f(); err != nil {
			return fmt.Errorf("text step %d: %w", i, err)
		}
	}
	mc.Close()
	if err := binaryTCP(ctx, addr); err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	if err := textUDP(ctx, addr); err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	return nil
}

// binPacket builds a binary protocol request.
func binPacket(op byte, key, extras, value string, opaque uint32) []byte {
	h := make([]byte, 24)
	h[0], h[1] = 0x80, op
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint32(h[8:], uint32(len(key)+len(extras)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	return append(append(append(h, extras...), key...), value...)
}

// binaryTCP sends set, getq (miss), getq (hit), noop and reads the replies
// up to the noop's.
func binaryTCP(ctx context.Context, addr string) error {
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var req []byte
	req = append(req, binPacket(0x01, "bin:1", "\x00\x00\x00\x00\x00\x00\x00\x3c", "value-1", 1)...)
	if _, err := c.Write(req); err != nil {
		return err
	}
	if err := readBinary(c, 1); err != nil {
		return err
	}
	req = append(binPacket(0x09, "bin:missing", "", "", 2), binPacket(0x09, "bin:1", "", "", 3)...)
	req = append(req, binPacket(0x0a, "", "", "", 4)...)
	if _, err := c.Write(req); err != nil {
		return err
	}
	return readBinary(c, 4)
}

// readBinary reads replies until the one with opaque.
func readBinary(c net.Conn, opaque uint32) error {
	h := make([]byte, 24)
	for {
		if _, err := io.ReadFull(c, h); err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(h[8:]))); err != nil {
			return err
		}
		if binary.BigEndian.Uint32(h[12:]) == opaque {
			return nil
		}
	}
}

// textUDP sends a set and a get over UDP, each one datagram with the frame
// header, and waits for each reply.
func textUDP(ctx context.Context, addr string) error {
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for i, cmd := range []string{"set udp:1 0 60 5\r\nhello\r\n", "get udp:1\r\n"} {
		frame := []byte{0, byte(i + 1), 0, 0, 0, 1, 0, 0}
		if _, err := c.Write(append(frame, cmd...)); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			return fmt.Errorf("reply %d: %w", i+1, err)
		}
	}
	return nil
}
