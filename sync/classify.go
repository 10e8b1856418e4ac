package sync

// Class is how apply treats an answer. Every answer is sorted here, in one
// place, as DESIGN.md's retry table says.
type Class int

const (
	ClassOK        Class = iota // 2xx
	ClassThrottled              // 429 / 1007: wait, slow the shared limiter, retry
	ClassTransient              // 5xx, 3xxx, 2022, 4004, no answer: back off and retry
	ClassFatal                  // 401/2004: the key is refused; stop the whole run
	ClassPermanent              // any other 4xx: the row fails, no retry
	ClassConflict               // 409/2014 on create: the card exists; re-read and patch
	ClassForbidden              // 403, 2005, 2006: this number is not the key's to change; the row fails
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
	case ClassForbidden:
		return "forbidden"
	}
	return "unknown"
}

// Classify sorts an answer by its HTTP status and Linq code (0 when the body
// had none). status 0 means no answer arrived: a dropped connection or a
// timeout, which is worth another try.
//
// A 403 is about one number (2006: not on the account; 2005: the Update
// page's own example of a 403), so it fails its row only; apply stops the
// run when 403s persist (see forbiddenStreak). A 401 is about the key, which
// every later request would send too: it stops the run at once.
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
	case status == 401 || code == 2004:
		return ClassFatal
	case status == 403 || code == 2005 || code == 2006:
		return ClassForbidden
	case status == 409 && code == 2014 && create:
		return ClassConflict
	case status >= 500, code >= 3000 && code < 4000, code == 2022, code == 4004, status == 408:
		return ClassTransient
	}
	return ClassPermanent
}

// classifyAnswer classifies an error answer, honouring the official SDK's
// x-should-retry header: "true" makes an answer worth retrying, "false"
// makes it final, whatever its status says. Two classes keep their own
// handling: a 401 (retrying a refused key only delays the stop) and a
// 409/2014 on create (re-reading the card is better than repeating the POST).
func classifyAnswer(e *APIError, create bool) Class {
	c := Classify(e.Status, e.Code, create)
	if e.ShouldRetry == nil || c == ClassFatal || c == ClassConflict || c == ClassOK {
		return c
	}
	switch {
	case *e.ShouldRetry && (c == ClassPermanent || c == ClassForbidden):
		return ClassTransient
	case !*e.ShouldRetry && (c == ClassTransient || c == ClassThrottled):
		return ClassPermanent
	}
	return c
}

// forbiddenStreak is how many 403s in a row, with no success between them,
// stop a run. One 403 is one number the key may not change (a stale number
// in the export); a streak of them from the start of the run, or after the
// last success, is what a key without permission looks like.
const forbiddenStreak = 5

// hint explains an answer that fails a row, in the user's terms, or
// returns "" when the API's own message says enough.
func hint(status, code int) string {
	switch {
	case status == 403 || code == 2005 || code == 2006:
		return "the number is not one this API key may change (not on the account, or no permission)"
	case status == 404 || code == 2012:
		return "no active card for this number (removed or deactivated since the snapshot)"
	case code == 5007:
		return "Linq could not download the image at image_url; check that the URL is public and serves an image"
	}
	return ""
}
