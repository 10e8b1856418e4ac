package sync

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// With no answer, the row's message names why, and the cause stays an
// error a caller can inspect.
func TestReadAnswerNoAnswer(t *testing.T) {
	ans := readAnswer(context.Background(), nil, io.ErrUnexpectedEOF, decodeSetCard)
	if !errors.Is(ans.err, io.ErrUnexpectedEOF) || ans.message() != "no answer: unexpected EOF" {
		t.Errorf("transport error: err %v, message %q", ans.err, ans.message())
	}
	o := failedOutcome(Outcome{}, ans, "gave up after 5 attempts")
	if o.Message != "gave up after 5 attempts: no answer: unexpected EOF" || o.ErrorCode != 0 {
		t.Errorf("outcome %+v", o)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	ans = readAnswer(ctx, nil, context.DeadlineExceeded, decodeSetCard)
	if ans.message() != "no answer within --request-timeout" {
		t.Errorf("timeout: message %q", ans.message())
	}
}
