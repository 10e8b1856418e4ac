package linqfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// LoggedRequest is one line of the request log: what a client sent and what
// it got back.
type LoggedRequest struct {
	Time   time.Time `json:"time"` // when the request arrived
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query"` // raw query string, as sent
	// Body is the request body when it is JSON; a body that is not JSON is
	// logged as a JSON string holding it, so that every line stays valid
	// JSON. Empty bodies are left out.
	Body json.RawMessage `json:"body,omitempty"`
	// Status is the HTTP status sent, 0 when no answer was sent (dropped
	// connection, lost response, hang or latency abandoned by the client).
	Status int `json:"status"`
	// Code is the Linq error code of the answer, 0 for a success or when no
	// answer was sent.
	Code    int    `json:"code"`
	TraceID string `json:"trace_id"`
	// Fault names the injected fault: "error", "drop", "hang",
	// "lost_response", or "canceled" when the client gave up during the
	// injected latency.
	Fault string `json:"fault,omitempty"`
	// Panic holds the value of a recovered panic, answered with 500/3006.
	Panic string `json:"panic,omitempty"`
}

// maxLogged bounds the in-memory request log of a long-running fake: once it
// holds twice as many, the older half is forgotten.
const maxLogged = 100_000

// exchange is the state of one request shared by the middleware layers.
type exchange struct {
	start   time.Time
	traceID string
	body    []byte // the request body, at most MaxBodyBytes+1 bytes
	bodyErr error  // reading the body failed
	status  int    // HTTP status sent, 0 until the answer starts
	code    int    // Linq error code of the answer
	fault   string // see LoggedRequest.Fault
	drop    bool   // close the connection instead of answering
	panic   string // see LoggedRequest.Panic
}

type exchangeKey struct{}

// exchangeFrom returns the exchange of the request whose context is ctx.
// Every request that reaches the operations has one: Handler creates it first.
func exchangeFrom(ctx context.Context) *exchange {
	return ctx.Value(exchangeKey{}).(*exchange)
}

// newTraceID returns 32 lowercase hex characters, like the trace-id part of
// a W3C traceparent.
func newTraceID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter notes in the exchange when and with what status the answer
// starts.
type statusWriter struct {
	http.ResponseWriter
	x *exchange
}

func (w *statusWriter) WriteHeader(status int) {
	if w.x.status == 0 {
		w.x.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.x.status == 0 {
		w.x.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, to drop it.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// track is the outermost layer: it gives the request its trace id, reads the
// body for the log, turns a panic into a 500/3006 envelope (never a stack
// trace), logs the request once it is over, however it ended, and then drops
// the connection if a fault asked for it.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{start: time.Now(), traceID: newTraceID()}
		// Any traceparent the client sent is ignored, as Linq does.
		w.Header().Set("X-Trace-ID", x.traceID)
		if r.Body != nil { // nil when the handler is called directly
			x.body, x.bodyErr = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		}
		r.Body = io.NopCloser(bytes.NewReader(x.body))
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
		sw := &statusWriter{ResponseWriter: w, x: x}

		defer func() {
			v := recover()
			if v != nil && v != http.ErrAbortHandler {
				x.panic = fmt.Sprint(v)
				writeError(sw, r, errInternal)
			}
			s.logRequest(r, x)
			if v == http.ErrAbortHandler {
				panic(v) // let net/http abort the connection
			}
			if x.drop {
				dropConnection(w)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequest appends the request to the in-memory log and writes it as one
// JSON line to Options.RequestLog. Write errors are ignored: the log is a
// side channel and must not fail the request it describes.
func (s *Server) logRequest(r *http.Request, x *exchange) {
	e := LoggedRequest{
		Time:    x.start,
		Method:  r.Method,
		Path:    r.URL.Path,
		Query:   r.URL.RawQuery,
		Body:    logBody(x.body),
		Status:  x.status,
		Code:    x.code,
		TraceID: x.traceID,
		Fault:   x.fault,
		Panic:   x.panic,
	}
	if e.Status == 0 {
		e.Code = 0
	}
	line, err := json.Marshal(e)
	if err != nil {
		panic(err) // every field marshals
	}

	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = append(s.log, e)
	if len(s.log) > 2*maxLogged {
		s.log = append([]LoggedRequest(nil), s.log[len(s.log)-maxLogged:]...)
	}
	if s.logOut != nil {
		s.logOut.Write(append(line, '\n'))
	}
}

func logBody(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) == nil {
		return buf.Bytes()
	}
	quoted, _ := json.Marshal(string(b))
	return quoted
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []LoggedRequest {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]LoggedRequest(nil), s.log...)
}

// ResetLog empties the in-memory request log.
func (s *Server) ResetLog() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = nil
}
