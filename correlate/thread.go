package correlate

// Process and thread attribution (Config.Attributor).
//
// A span's local end is its client on side "client" (the request was
// written here, the response read here) and its server on side "server"
// (the request was read here, the response written here). The Attributor
// is asked for the task that moved the first byte of each, by the
// connection and the TCP sequence number the packets carried.
//
// An outbound call S whose request was written by thread T of process P
// is, among the inbound requests its host was serving when S left (the
// timing candidates), most likely the child of the one that T read: a
// thread-per-request server reads the request, makes its calls and writes
// the response on one thread. So:
//   - a candidate read by another process is ruled out;
//   - a candidate read by another thread of P is ruled out, unless P has
//     been seen to answer a request, or read a call's reply, on another
//     thread than the one that read the request or sent the call (an event
//     loop handing work to a pool, a Go program whose goroutines move
//     between threads): then threads say nothing;
//   - when exactly one remaining candidate was read by T, it is the parent
//     (same_thread); otherwise timing chooses among the remaining ones.

// maxMigrating bounds the processes remembered as moving requests between
// threads.
const maxMigrating = 4096

// reqTaskOf returns the local task that moved s's request, asking the
// Attributor once it is complete, or before if not yet known.
func (l *Linker) reqTaskOf(s *Span) (Task, bool) {
	if s.reqState == taskFound {
		return s.reqTask, true
	}
	a := l.cfg.Attributor
	if a == nil || s.noRequest || (s.reqState == taskMissing && !s.complete) {
		return Task{}, false
	}
	var t Task
	ok := false
	switch s.Side {
	case SideClient:
		t, ok = a.Task(s.ClientAddr, s.ServerAddr, s.ReqSeq, true)
	case SideServer:
		t, ok = a.Task(s.ClientAddr, s.ServerAddr, s.ReqSeq, false)
	}
	if ok {
		s.reqTask, s.reqState = t, taskFound
	} else {
		s.reqState = taskMissing
	}
	return t, ok
}

// respTaskOf returns the local task that moved s's response.
func (l *Linker) respTaskOf(s *Span) (Task, bool) {
	if s.respState == taskFound {
		return s.respTask, true
	}
	a := l.cfg.Attributor
	if a == nil || !s.HasResponse || s.respState == taskMissing {
		return Task{}, false
	}
	var t Task
	ok := false
	switch s.Side {
	case SideClient:
		t, ok = a.Task(s.ServerAddr, s.ClientAddr, s.respSeq, false)
	case SideServer:
		t, ok = a.Task(s.ServerAddr, s.ClientAddr, s.respSeq, true)
	}
	if ok {
		s.respTask, s.respState = t, taskFound
	} else {
		s.respState = taskMissing
	}
	return t, ok
}

// attribute sets the process attributes of a completed span and learns
// whether its process moves requests between threads.
func (l *Linker) attribute(s *Span) {
	if l.cfg.Attributor == nil {
		return
	}
	rq, rqOK := l.reqTaskOf(s)
	rs, rsOK := l.respTaskOf(s)
	t := rq
	if !rqOK {
		if !rsOK {
			return
		}
		t = rs
	}
	s.Attributes[AttrProcessPID] = int64(t.PID)
	s.Attributes[AttrThreadID] = int64(t.TID)
	if t.Comm != "" {
		s.Attributes[AttrProcessExecutableName] = t.Comm
	}
	if t.ContainerID != "" {
		s.Attributes[AttrContainerID] = t.ContainerID
	}
	// A request answered, or a call's reply read, on another thread than
	// the one that read the request or sent the call: the process moves
	// work between threads.
	if (s.Side == SideServer || s.Side == SideClient) && rqOK && rsOK && rq.PID == rs.PID && rq.TID != rs.TID {
		if l.migrating == nil || len(l.migrating) >= maxMigrating {
			l.migrating = make(map[uint32]bool)
		}
		l.migrating[rq.PID] = true
	}
}

// threadVerdict says what threads tell about a timing candidate.
type threadVerdict uint8

const (
	threadUnknown threadVerdict = iota // no task for one of them
	threadSame                         // read by the thread that sent the call
	threadOther                        // read by another process, or another thread of a process that keeps requests on one
	threadNeutral                      // another thread of a process that moves requests between threads
)

// threadOf compares the task that sent call s (st) with the one that read
// candidate p's request.
func (l *Linker) threadOf(st Task, p *Span) threadVerdict {
	pt, ok := l.reqTaskOf(p)
	switch {
	case !ok:
		return threadUnknown
	case pt.PID != st.PID:
		return threadOther
	case pt.TID == st.TID:
		if l.migrating[pt.PID] {
			return threadNeutral
		}
		return threadSame
	case l.migrating[pt.PID]:
		return threadNeutral
	}
	return threadOther
}
