package htmlreport

import (
	"fmt"
	"io"
	"time"

	"github.com/bulksync/bulksync/internal/atomicfile"
	"github.com/bulksync/bulksync/sync"
)

// WriteSample writes a page of n made-up rows, a quarter of each of
// create, update, noop and invalid, for the tests and the bench.
func WriteSample(path string, n int) error {
	c := New("plan")
	actions := []sync.Action{sync.ActionCreate, sync.ActionUpdate, sync.ActionNoop, sync.ActionInvalid}
	for i := range n {
		a := actions[i%len(actions)]
		r := sync.ReportRow{Line: i + 2, PhoneNumber: fmt.Sprintf("+1212%07d", i), Action: a, Result: sync.ResultPlanned,
			FirstNameNew: fmt.Sprintf("First%d", i), LastNameNew: "Last", FirstNameOld: fmt.Sprintf("First%d", i), LastNameOld: "Last"}
		switch a {
		case sync.ActionCreate:
			r.FirstNameOld, r.LastNameOld, r.ChangedFields = "", "", "first_name|last_name"
		case sync.ActionUpdate:
			r.LastNameOld, r.ChangedFields = "Old", "last_name"
		case sync.ActionInvalid:
			r.Result, r.ErrorMessage = sync.ResultSkipped, "phone_number: not valid"
		}
		c.Add(r)
	}
	return atomicfile.Write(path, true, func(w io.Writer) error { return c.Write(w, "sample.csv", time.Now()) })
}
