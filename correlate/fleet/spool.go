package fleet

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// SpoolConfig configures a Spool.
type SpoolConfig struct {
	// MaxMemory bounds the bytes of records held in memory while the
	// broker cannot be reached; 0 means 64 MiB.
	MaxMemory int
	// Dir, when set, is where records beyond MaxMemory go (segment files
	// spool-N.wts), and where records left at Close are kept for the next
	// start. Without it they are dropped (counted).
	Dir string
	// MaxDisk bounds the bytes in Dir; 0 means 1 GiB. Beyond it records
	// are dropped (counted).
	MaxDisk int64
	// Batch is the number of records published at once; 0 means 256.
	Batch int
	// Retry is the longest wait between attempts while the broker is
	// down; 0 means 2 s.
	Retry time.Duration
	// Logger receives lifecycle events (broker down, back); nil discards.
	Logger *slog.Logger
}

// SpoolStats counts what went through a Spool.
type SpoolStats struct {
	Published   uint64 // records the broker stored
	Failures    uint64 // failed publish attempts (each retried)
	SpooledDisk uint64 // records written to Dir
	Dropped     uint64 // records lost: memory full without Dir, or Dir full
	Queued      int    // records waiting in memory
	DiskBytes   int64  // bytes waiting in Dir
}

// Each calls f for each counter, in a fixed order.
func (s *SpoolStats) Each(f func(name string, v uint64)) {
	f("published", s.Published)
	f("publish_failures", s.Failures)
	f("spooled_disk", s.SpooledDisk)
	f("spool_dropped", s.Dropped)
}

// Spool queues records for a Publisher so that capture never waits for
// the broker: Put returns at once, a goroutine publishes in batches and,
// while the broker cannot be reached, keeps up to MaxMemory bytes in
// memory and the overflow in Dir, oldest first, and drains them when the
// broker is back. It is safe for concurrent use.
type Spool struct {
	cfg    SpoolConfig
	pub    Publisher
	log    *slog.Logger
	mu     sync.Mutex
	cond   *sync.Cond
	mem    []Message
	memB   int
	infl   int      // records at the head of mem being published
	segs   []string // disk segments, oldest first
	diskB  int64
	nextSg uint64
	closed bool
	stats  SpoolStats
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

// OpenSpool returns a running Spool on pub. Segments left in cfg.Dir by an
// earlier run are published first.
func OpenSpool(cfg *SpoolConfig, pub Publisher) (*Spool, error) {
	s := &Spool{pub: pub, done: make(chan struct{})}
	if cfg != nil {
		s.cfg = *cfg
	}
	if s.cfg.MaxMemory <= 0 {
		s.cfg.MaxMemory = 64 << 20
	}
	if s.cfg.MaxDisk <= 0 {
		s.cfg.MaxDisk = 1 << 30
	}
	if s.cfg.Batch <= 0 {
		s.cfg.Batch = 256
	}
	if s.cfg.Retry <= 0 {
		s.cfg.Retry = 2 * time.Second
	}
	s.log = s.cfg.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.cond = sync.NewCond(&s.mu)
	if s.cfg.Dir != "" {
		if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("fleet: spool dir: %w", err)
		}
		old, err := filepath.Glob(filepath.Join(s.cfg.Dir, "spool-*.wts"))
		if err != nil {
			return nil, fmt.Errorf("fleet: spool dir: %w", err)
		}
		slices.Sort(old)
		for _, f := range old {
			fi, err := os.Stat(f)
			if err != nil {
				continue
			}
			s.segs = append(s.segs, f)
			s.diskB += fi.Size()
			var n uint64
			fmt.Sscanf(strings.TrimSuffix(filepath.Base(f), ".wts"), "spool-%d", &n)
			s.nextSg = max(s.nextSg, n+1)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Put queues m. It never blocks on the broker.
func (s *Spool) Put(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.stats.Dropped++
		return
	}
	s.mem = append(s.mem, m)
	s.memB += len(m.Data)
	for s.memB > s.cfg.MaxMemory && len(s.mem) > s.infl {
		s.overflow()
	}
	s.cond.Signal()
}

// overflow moves the oldest half of memory to a disk segment, or drops
// it. Called with mu held.
func (s *Spool) overflow() {
	n := max(1, (len(s.mem)-s.infl)/2)
	batch := s.mem[s.infl : s.infl+n]
	size := 0
	for _, m := range batch {
		size += len(m.Data)
	}
	if s.cfg.Dir == "" || s.diskB+int64(size) > s.cfg.MaxDisk || s.writeSegment(batch) != nil {
		s.stats.Dropped += uint64(n)
	} else {
		s.stats.SpooledDisk += uint64(n)
	}
	s.mem = slices.Delete(s.mem, s.infl, s.infl+n)
	s.memB -= size
}

// writeSegment writes msgs to a new segment: per record a 4-byte
// partition, a 4-byte length and the data (big-endian).
func (s *Spool) writeSegment(msgs []Message) error {
	var name string
	var f *os.File
	var err error
	for range 64 {
		name = filepath.Join(s.cfg.Dir, fmt.Sprintf("spool-%020d.wts", s.nextSg))
		s.nextSg++
		f, err = os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		s.log.Warn("spool segment", "err", err)
		return err
	}
	w := bufio.NewWriter(f)
	var hdr [8]byte
	var n int64
	for _, m := range msgs {
		binary.BigEndian.PutUint32(hdr[:4], uint32(m.Partition))
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(m.Data)))
		w.Write(hdr[:])
		w.Write(m.Data)
		n += int64(8 + len(m.Data))
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err != nil {
		os.Remove(name)
		s.log.Warn("spool segment", "err", err)
		return err
	}
	s.segs = append(s.segs, name)
	s.diskB += n
	return nil
}

// readSegment reads a segment written by writeSegment. A truncated tail
// (a crash while writing) ends it.
func readSegment(name string) ([]Message, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var out []Message
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return out, nil
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if n > maxRecordSize {
			return out, fmt.Errorf("fleet: spool segment %s: record of %d bytes", name, n)
		}
		d := make([]byte, n)
		if _, err := io.ReadFull(r, d); err != nil {
			return out, nil
		}
		out = append(out, Message{Partition: int(binary.BigEndian.Uint32(hdr[:4])), Data: d})
	}
}

// run publishes: disk segments first (they are older), then memory.
func (s *Spool) run() {
	defer close(s.done)
	wait := 100 * time.Millisecond
	down := false
	for {
		s.mu.Lock()
		for len(s.mem) == 0 && len(s.segs) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.mem) == 0 && len(s.segs) == 0 && s.closed {
			s.mu.Unlock()
			return
		}
		var batch []Message
		seg := ""
		if len(s.segs) > 0 {
			seg = s.segs[0]
		} else {
			batch = slices.Clone(s.mem[:min(len(s.mem), s.cfg.Batch)])
			s.infl = len(batch)
		}
		s.mu.Unlock()
		if seg != "" {
			msgs, err := readSegment(seg)
			if err != nil {
				s.log.Warn("spool segment", "err", err)
			}
			batch = msgs
		}
		err := s.pub.Publish(s.ctx, batch)
		if s.ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.infl = 0
		if err != nil {
			s.stats.Failures++
			s.mu.Unlock()
			if !down {
				s.log.Warn("broker unreachable; spooling", "err", err)
				down = true
			}
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return
			}
			wait = min(wait*2, s.cfg.Retry)
			continue
		}
		if down {
			s.log.Info("broker reachable again; draining spool")
			down = false
		}
		wait = 100 * time.Millisecond
		s.stats.Published += uint64(len(batch))
		if seg != "" {
			if fi, err := os.Stat(seg); err == nil {
				s.diskB -= fi.Size()
			}
			os.Remove(seg)
			s.segs = s.segs[1:]
		} else {
			n := len(batch)
			for _, m := range s.mem[:n] {
				s.memB -= len(m.Data)
			}
			s.mem = slices.Delete(s.mem, 0, n)
		}
		s.mu.Unlock()
	}
}

// Close stops accepting records and publishes what is queued until ctx
// is done; what is left then goes to Dir (or is counted as dropped).
func (s *Spool) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mem) > 0 {
		n := len(s.mem)
		if s.cfg.Dir != "" && s.writeSegment(s.mem) == nil {
			s.stats.SpooledDisk += uint64(n)
			s.log.Info("spooled records to disk for the next start", "records", n, "dir", s.cfg.Dir)
		} else {
			s.stats.Dropped += uint64(n)
		}
		s.mem, s.memB = nil, 0
	}
	if s.stats.Dropped > 0 {
		return fmt.Errorf("fleet: %d span records dropped (broker unreachable, spool full)", s.stats.Dropped)
	}
	return nil
}

// Stats returns the counters so far.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = len(s.mem)
	st.DiskBytes = s.diskB
	return st
}
