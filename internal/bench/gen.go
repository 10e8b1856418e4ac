package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
)

// maxPhones is how many distinct numbers phone can make: +1 212 200-0000
// to +1 212 999-9999, all valid US numbers for libphonenumber.
const maxPhones = 8_000_000

// phone returns the i-th generated phone number, in E.164. Seeds and
// exports use the same sequence, so row i of an export meets card i.
func phone(i int) string {
	return "+1212" + strconv.Itoa(2_000_000+i)
}

// writeSeed writes n cards for the fake's --seed, numbers phone(0) to
// phone(n-1), each with first_name Old, and returns how many it wrote.
func writeSeed(w io.Writer, n int) (int, error) {
	return writeRows(w, "phone_number,first_name,last_name,image_url,is_active\n", n, "Old", ",true\n")
}

// writeExport writes a generic export of n rows, numbers phone(0) to
// phone(n-1), each with first_name New and the same last_name as the seed:
// against a seeded card the plan is an update of first_name alone, and a
// number beyond the seed is missing.
func writeExport(w io.Writer, n int) (int, error) {
	return writeRows(w, "phone_number,first_name,last_name,image_url\n", n, "New", "\n")
}

func writeRows(w io.Writer, header string, n int, first, tail string) (int, error) {
	if n < 0 || n > maxPhones {
		return 0, fmt.Errorf("%d rows: allowed 0 to %d", n, maxPhones)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.WriteString(header)
	var line []byte
	for i := range n {
		line = append(line[:0], phone(i)...)
		line = append(line, ',')
		line = append(line, first...)
		line = append(line, ",Person"...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, ',')
		line = append(line, tail...)
		if _, err := bw.Write(line); err != nil {
			return i, err
		}
	}
	return n, bw.Flush()
}

// writeFile creates path and fills it with gen.
func writeFile(path string, n int, gen func(io.Writer, int) (int, error)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := gen(f, n); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
