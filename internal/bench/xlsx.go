package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// planXLSX is the last figure of 4: the plan of csvRows rows again, from the
// same export saved as .xlsx, against the same fake, beside the plan from
// CSV (csvPlan). It shows what reading a workbook costs: unzipping, XML, and
// each row read twice (as shown and as stored). For information: no goal.
func (b *bench) planXLSX(ctx context.Context, f *fake, id string, rows int, csvPlan child) figure {
	fig := figure{id: id, name: fmt.Sprintf("plan of %s rows from .xlsx: wall time ÷ the same plan from CSV", count(rows))}
	fmt.Fprintf(b.log, "bench: figure %s: plan of %d rows from .xlsx\n", id, rows)
	input := filepath.Join(b.dir, "fig"+id+"-export.xlsx")
	err := writeXLSXExport(input, rows)
	var plan child
	if err == nil {
		plan, err = b.runSync(ctx, f, "plan", input, b.sz.childTimeout)
	}
	if err == nil && plan.summary.Records != rows {
		err = fmt.Errorf("plan read %d records from the .xlsx, want %d", plan.summary.Records, rows)
	}
	if err != nil {
		fig.err = err
		return fig
	}
	var size int64
	if st, err := os.Stat(input); err == nil {
		size = st.Size()
	}
	fig.value = plan.wall.Seconds() / csvPlan.wall.Seconds()
	fig.shown = times(fig.value)
	fig.detail = fmt.Sprintf(".xlsx %.2f s (%.0f rows/s), CSV %.2f s; CPU %.2f s ÷ %.2f s = %s; peak RSS %s, CSV %s; the workbook is %.1f MB",
		plan.wall.Seconds(), float64(rows)/plan.wall.Seconds(), csvPlan.wall.Seconds(),
		plan.cpu.Seconds(), csvPlan.cpu.Seconds(), times(plan.cpu.Seconds()/csvPlan.cpu.Seconds()),
		megabytes(plan.maxRSS), megabytes(csvPlan.maxRSS), float64(size)/1e6)
	return fig
}

// writeXLSXExport writes the export writeExport writes, as an .xlsx
// workbook with the phone numbers stored as numbers, as Excel keeps a
// column of numbers typed or pasted in: 12122000000 is read as phone(0).
func writeXLSXExport(path string, n int) error {
	if n < 0 || n > maxPhones {
		return fmt.Errorf("%d rows: allowed 0 to %d", n, maxPhones)
	}
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	if err := sw.SetRow("A1", []any{"phone_number", "first_name", "last_name", "image_url"}); err != nil {
		return err
	}
	for i := range n {
		digits, err := strconv.ParseInt(phone(i)[1:], 10, 64)
		if err != nil {
			return err
		}
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, []any{digits, "New", "Person" + strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SaveAs(path)
}
