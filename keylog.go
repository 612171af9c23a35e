package wiretrace

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/wiretrace/wiretrace/protocols/tls"
)

// KeyLogFile is a tls.KeySource that reads an NSS key log file (what
// SSLKEYLOGFILE makes curl, browsers and OpenSSL-based programs write). The
// file may still grow, as during a live capture: when asked for a session it
// does not know, it reads what was appended since. It is safe for
// concurrent use. The secrets are never logged nor shown.
type KeyLogFile struct {
	path string
	mu   sync.Mutex
	off  int64
	idle bool // the last reload read nothing new
	kl   tls.KeyLog
}

var _ tls.KeySource = (*KeyLogFile)(nil)

// OpenKeyLog reads the key log file at path. The file is not kept open;
// it is reopened to read what is appended.
func OpenKeyLog(path string) (*KeyLogFile, error) {
	k := &KeyLogFile{path: path}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// reload reads what was appended to the file since the last read; a file
// that shrank (rewritten) is read again from its start.
func (k *KeyLogFile) reload() error {
	f, err := os.Open(k.path)
	if err != nil {
		return fmt.Errorf("tls key log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("tls key log: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("tls key log: %s is a directory", k.path)
	}
	if st.Size() < k.off {
		k.off = 0
	}
	if st.Size() == k.off {
		if !k.idle {
			k.idle = true
		} else {
			k.kl.Flush() // a last line without its line end
		}
		return nil
	}
	n, err := io.Copy(&k.kl, io.NewSectionReader(f, k.off, st.Size()-k.off))
	k.off += n
	k.idle = false
	if err != nil {
		return fmt.Errorf("tls key log: %s: %w", k.path, err)
	}
	return nil
}

// Secrets implements tls.KeySource.
func (k *KeyLogFile) Secrets(clientRandom []byte) (tls.Secrets, bool) {
	if s, ok := k.kl.Secrets(clientRandom); ok {
		return s, true
	}
	k.mu.Lock()
	err := k.reload()
	k.mu.Unlock()
	if err != nil {
		return tls.Secrets{}, false
	}
	return k.kl.Secrets(clientRandom)
}

// Stats returns what the key log read so far.
func (k *KeyLogFile) Stats() tls.KeyLogStats { return k.kl.Stats() }
