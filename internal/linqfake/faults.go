package linqfake

import (
	"context"
	"net/http"
	"time"
)

type fault int

const (
	faultNone fault = iota
	fault3006
	fault4004
	fault2022
	faultDrop
	faultHang
	faultLostResponse
	faultThrottle
)

// drawFault picks the fault and the latency of one contact-card request.
// It always takes two numbers from the random source, so that a run with
// the same seed and the same requests meets the same faults whatever the
// probabilities.
func (s *Server) drawFault(method string) (fault, time.Duration) {
	s.mu.Lock()
	u, j := s.rng.Float64(), s.rng.Float64()
	f := s.faults
	s.mu.Unlock()

	delay := s.latency + time.Duration(j*float64(s.jitter))
	for _, c := range []struct {
		p float64
		f fault
	}{
		{f.Error3006, fault3006},
		{f.Error4004, fault4004},
		{f.Error2022, fault2022},
		{f.Drop, faultDrop},
		{f.Hang, faultHang},
		{f.LostResponse, faultLostResponse},
		{f.Throttle, faultThrottle},
	} {
		if u < c.p {
			if c.f == fault2022 && method == http.MethodGet {
				// Setup failures happen when a card is written, not read.
				return faultNone, delay
			}
			return c.f, delay
		}
		u -= c.p
	}
	return faultNone, delay
}

// injectFaults adds Options.Latency and Jitter to contact-card requests,
// injects the faults of Options.Faults, and adds Options.ShouldRetry to
// their error answers. It runs after authentication and
// rate limiting, and before the request body is looked at.
func (s *Server) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != pathContactCard {
			next.ServeHTTP(w, r)
			return
		}
		if s.shouldRetry != "" && r.Method != http.MethodGet {
			w = retryHintWriter{w, s.shouldRetry}
		}
		x := exchangeFrom(r.Context())
		f, delay := s.drawFault(r.Method)
		if !sleep(r.Context(), delay) {
			x.fault = "canceled"
			x.drop = true
			return
		}
		switch f {
		case fault3006:
			x.fault = "error"
			writeError(w, r, errInternal)
		case fault4004:
			x.fault = "error"
			writeError(w, r, errUnavailable)
		case fault2022:
			x.fault = "error"
			writeError(w, r, errSetupFailed)
		case faultThrottle:
			x.fault = "error"
			writeError(w, r, errRateLimited(1))
		case faultDrop:
			x.fault = "drop"
			x.drop = true
		case faultHang:
			x.fault = "hang"
			if !s.hold(r.Context()) {
				x.drop = true
				return
			}
			next.ServeHTTP(w, r)
		case faultLostResponse:
			x.fault = "lost_response"
			next.ServeHTTP(discardWriter{make(http.Header)}, r)
			x.drop = true
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// hold keeps a hanging request until its context ends (the client gave up,
// or the server closed) or Options.HangFor passes. It reports whether the
// request should still be served.
func (s *Server) hold(ctx context.Context) bool {
	if s.hangFor <= 0 {
		<-ctx.Done()
		return false
	}
	return sleep(ctx, s.hangFor)
}

// sleep waits for d and reports whether ctx was still live at the end.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the client's connection without an answer. Faults
// only ask for it (exchange.drop): track does it once the request is logged,
// so that a client that sees the connection close finds the request in the
// log.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 connections cannot be hijacked; aborting the handler
		// resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// discardWriter takes the answer of a request whose response is lost.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// retryHintWriter adds the x-should-retry header to an error answer.
type retryHintWriter struct {
	http.ResponseWriter
	value string
}

func (w retryHintWriter) WriteHeader(code int) {
	if code >= 400 {
		w.Header().Set("X-Should-Retry", w.value)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w retryHintWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
