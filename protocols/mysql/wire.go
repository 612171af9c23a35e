package mysql

// Capability flags (protocol page "Capabilities Flags").
const (
	capConnectWithDB     = 0x00000008
	capCompress          = 0x00000020
	capProtocol41        = 0x00000200
	capSSL               = 0x00000800
	capSecureConnection  = 0x00008000
	capPluginAuth        = 0x00080000
	capConnectAttrs      = 0x00100000
	capPluginAuthLenenc  = 0x00200000
	capDeprecateEOF      = 0x01000000
	capZstdCompression   = 0x04000000
	capQueryAttributes   = 0x08000000
	maxPacketLen         = 0xffffff // a payload this long continues in the next packet
	statusMoreResults    = 0x0008   // SERVER_MORE_RESULTS_EXISTS
	statusCursorExists   = 0x0040   // SERVER_STATUS_CURSOR_EXISTS
	hdrOK                = 0x00
	hdrLocalInfile       = 0xfb
	hdrEOF               = 0xfe
	hdrERR               = 0xff
	handshakeV10         = 10
	handshakeFillerStart = 9  // offset of the 23 zero bytes in HandshakeResponse41
	handshakeFixedLen    = 32 // caps, max packet, charset, filler
)

// Commands (protocol page "Command Phase").
const (
	comSleep            = 0x00
	comQuit             = 0x01
	comInitDB           = 0x02
	comQuery            = 0x03
	comFieldList        = 0x04
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
	comStmtReset        = 0x1a
	comStmtFetch        = 0x1c
	comChangeUser       = 0x11
	comBinlogDump       = 0x12
	comTableDump        = 0x13
	comStatistics       = 0x09
	comProcessInfo      = 0x0a
	comBinlogDumpGTID   = 0x1e
	comClone            = 0x20
	numCommands         = 0x21
)

// commandNames names each command as its span is named (the COM_ prefix
// dropped); COM_QUERY, COM_STMT_PREPARE and COM_STMT_EXECUTE are named after
// their SQL instead.
var commandNames = [numCommands]string{
	"SLEEP", "QUIT", "INIT_DB", "QUERY", "FIELD_LIST", "CREATE_DB", "DROP_DB",
	"REFRESH", "SHUTDOWN", "STATISTICS", "PROCESS_INFO", "CONNECT",
	"PROCESS_KILL", "DEBUG", "PING", "TIME", "DELAYED_INSERT", "CHANGE_USER",
	"BINLOG_DUMP", "TABLE_DUMP", "CONNECT_OUT", "REGISTER_SLAVE", "PREPARE",
	"EXECUTE", "STMT_SEND_LONG_DATA", "STMT_CLOSE", "STMT_RESET", "SET_OPTION",
	"STMT_FETCH", "DAEMON", "BINLOG_DUMP_GTID", "RESET_CONNECTION", "CLONE",
}

// isCommand reports whether c is a command a client sends.
func isCommand(c byte) bool { return c > comSleep && c < numCommands }

func le16(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 }
func le24(b []byte) int    { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// lenenc decodes a length-encoded integer; n is 0 when b is too short or
// starts with 0xff (protocol page "Integer Types"). NULL (0xfb) reads as 0.
func lenenc(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfb:
		return 0, 1
	case c == 0xfc:
		n = 3
	case c == 0xfd:
		n = 4
	case c == 0xfe:
		n = 9
	default:
		return 0, 0
	}
	if len(b) < n {
		return 0, 0
	}
	for i := n - 1; i >= 1; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, n
}

// skipLenencStr returns the bytes after a length-encoded string, and false
// when b is too short.
func skipLenencStr(b []byte) ([]byte, bool) {
	l, n := lenenc(b)
	if n == 0 || uint64(len(b)-n) < l {
		return nil, false
	}
	return b[n+int(l):], true
}

// cstr splits b at its first NUL byte; ok is false when there is none.
func cstr(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// binaryValueLen returns the length of a binary-protocol value of the given
// column type at the start of b (protocol page "Binary Protocol Value"), or
// -1 when b is too short or the type unknown.
func binaryValueLen(typ byte, b []byte) int {
	switch typ {
	case 6: // NULL
		return 0
	case 1: // TINY
		return 1
	case 2, 13: // SHORT, YEAR
		return 2
	case 3, 9, 4: // LONG, INT24, FLOAT
		return 4
	case 8, 5: // LONGLONG, DOUBLE
		return 8
	case 7, 10, 11, 12: // TIMESTAMP, DATE, TIME, DATETIME
		if len(b) == 0 {
			return -1
		}
		return 1 + int(b[0])
	case 0, 15, 16, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255:
		rest, ok := skipLenencStr(b)
		if !ok {
			return -1
		}
		return len(b) - len(rest)
	}
	return -1
}

// queryText returns the SQL of a COM_QUERY payload (after the command byte).
// With query attributes (CLIENT_QUERY_ATTRIBUTES, MySQL 8.0.23) the SQL
// follows the parameter count, the parameter set count (always 1), and the
// parameters: a NULL bitmap, a new-params-bound flag, the types and names,
// and the values. attrs says whether the capability is known to be
// negotiated; when it is not known (a capture started mid-connection) a
// payload that starts with a count byte and a set count of 1 is taken to
// carry attributes. ok is false when the attributes cannot be skipped.
func queryText(b []byte, attrs, attrsKnown bool) ([]byte, bool) {
	if !attrsKnown {
		attrs = len(b) >= 2 && b[0] < 0x20 && b[1] == 1
	}
	if !attrs {
		return b, true
	}
	count, n := lenenc(b)
	if n == 0 {
		return nil, false
	}
	b = b[n:]
	_, n = lenenc(b) // parameter set count
	if n == 0 {
		return nil, false
	}
	b = b[n:]
	if count == 0 {
		return b, true
	}
	if count > 1<<12 {
		return nil, false
	}
	nullLen := int(count+7) / 8
	if len(b) < nullLen+1 {
		return nil, false
	}
	nulls := b[:nullLen]
	b = b[nullLen+1:] // bitmap, new_params_bind_flag (1)
	types := make([]byte, 0, 16)
	for i := uint64(0); i < count; i++ {
		if len(b) < 2 {
			return nil, false
		}
		types = append(types, b[0])
		var ok bool
		if b, ok = skipLenencStr(b[2:]); !ok {
			return nil, false
		}
	}
	for i, t := range types {
		if nulls[i/8]&(1<<(i%8)) != 0 {
			continue
		}
		l := binaryValueLen(t, b)
		if l < 0 || l > len(b) {
			return nil, false
		}
		b = b[l:]
	}
	return b, true
}

// More commands, named for plausibleCommand.
const (
	comPing            = 0x0e
	comResetConnection = 0x1f
)
