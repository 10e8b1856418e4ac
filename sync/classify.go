package sync

// Class is how apply treats an answer. Every answer is sorted here, in one
// place, as DESIGN.md's retry table says.
type Class int

const (
	ClassOK        Class = iota // 2xx
	ClassThrottled              // 429 / 1007: wait, slow the shared limiter, retry
	ClassTransient              // 5xx, 3xxx, 2022, 4004, no answer: back off and retry
	ClassFatal                  // 401/2004, 403/2005, 2006: stop the whole run
	ClassPermanent              // any other 4xx: the row fails, no retry
	ClassConflict               // 409/2014 on create: the card exists; re-read and patch
)

func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassThrottled:
		return "throttled"
	case ClassTransient:
		return "transient"
	case ClassFatal:
		return "fatal"
	case ClassPermanent:
		return "permanent"
	case ClassConflict:
		return "conflict"
	}
	return "unknown"
}

// Classify sorts an answer by its HTTP status and Linq code (0 when the body
// had none). status 0 means no answer arrived: a dropped connection or a
// timeout, which is worth another try.
func Classify(status, code int, create bool) Class {
	switch {
	case status == 0:
		return ClassTransient
	case status >= 200 && status < 300:
		return ClassOK
	case status >= 300 && status < 400:
		// A redirect is never followed (see NewHTTPClient), whatever
		// code its body holds.
		return ClassPermanent
	case status == 429 || code == 1007:
		return ClassThrottled
	case status == 401 || status == 403 || code == 2004 || code == 2005 || code == 2006:
		return ClassFatal
	case status == 409 && code == 2014 && create:
		return ClassConflict
	case status >= 500, code >= 3000 && code < 4000, code == 2022, code == 4004, status == 408:
		return ClassTransient
	}
	return ClassPermanent
}
