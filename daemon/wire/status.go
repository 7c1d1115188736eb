package wire

// Status is a response's outcome. Part of the wire format: values never
// change meaning; new ones are added at the end.
type Status uint16

const (
	StatusOK           Status = 0
	StatusNotFound     Status = 1  // the object does not exist
	StatusNoSpace      Status = 2  // the daemon's disk is full
	StatusInvalid      Status = 3  // malformed or inconsistent request
	StatusTooLarge     Status = 4  // object or request exceeds a limit
	StatusBadName      Status = 5  // pool or object name not allowed
	StatusCorrupt      Status = 6  // stored data failed its checksum
	StatusIO           Status = 7  // the daemon's disk failed the I/O
	StatusBusy         Status = 8  // overloaded: retry later
	StatusStaleEpoch   Status = 9  // request's map epoch is older than the daemon's
	StatusAuthRequired Status = 10 // authentication missing or invalid
	StatusDenied       Status = 11 // authenticated but not allowed
	StatusRetryTooOld  Status = 12 // a retransmission too old to tell whether it was applied
	StatusBadVersion   Status = 13 // protocol version not spoken by the daemon
	StatusShuttingDown Status = 14 // the daemon is stopping
	StatusInternal     Status = 15 // a bug in the daemon; it logged the details
	StatusWrongDaemon  Status = 16 // this daemon does not hold the object under the current map
	StatusNotSupported Status = 17 // operation not supported by this daemon
	statusFirstUnknown Status = 18
)

var statusText = [...]string{
	StatusOK:           "ok",
	StatusNotFound:     "object not found",
	StatusNoSpace:      "no space left on the daemon's disk",
	StatusInvalid:      "invalid request",
	StatusTooLarge:     "object or request too large",
	StatusBadName:      "invalid pool or object name",
	StatusCorrupt:      "stored data failed its checksum",
	StatusIO:           "disk I/O error on the daemon",
	StatusBusy:         "daemon busy",
	StatusStaleEpoch:   "stale map epoch",
	StatusAuthRequired: "authentication required",
	StatusDenied:       "permission denied",
	StatusRetryTooOld:  "retransmission too old to be applied safely",
	StatusBadVersion:   "unsupported protocol version",
	StatusShuttingDown: "daemon shutting down",
	StatusInternal:     "internal daemon error",
	StatusWrongDaemon:  "object not held by this daemon",
	StatusNotSupported: "operation not supported",
}

func (s Status) String() string {
	if s < statusFirstUnknown {
		return statusText[s]
	}
	return "unknown status"
}

// Known reports whether s is a status this version defines.
func (s Status) Known() bool { return s < statusFirstUnknown }
