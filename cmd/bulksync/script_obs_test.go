package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rogpeppe/go-internal/testscript"
)

// promcheck FILE: parse FILE with Prometheus's text-format parser (as the
// node exporter's textfile collector does), check that every family has a
// HELP, and print each sample, sorted: name{label="value",...} value.
func checkProm(ts *testscript.TestScript, args []string) error {
	if len(args) != 1 {
		ts.Fatalf("usage: promcheck FILE")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return fmt.Errorf("%s does not parse: %v", args[0], err)
	}
	var lines []string
	for name, mf := range families {
		if mf.GetHelp() == "" {
			return fmt.Errorf("%s has no HELP", name)
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			slices.Sort(labels)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			lines = append(lines, fmt.Sprintf("%s{%s} %s", name, strings.Join(labels, ","), strconv.FormatFloat(v, 'f', -1, 64)))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
	return nil
}

// nokey SECRET [EXCEPT...]: no file under $WORK (reports, summaries,
// metrics, saved plans, the state database and its journal, saved output),
// but the EXCEPT files (the key file), holds SECRET.
func checkNoKey(ts *testscript.TestScript, args []string) error {
	if len(args) < 1 || len(args[0]) < 8 {
		ts.Fatalf("usage: nokey SECRET [EXCEPT...] (SECRET of 8 characters or more)")
	}
	secret := []byte(args[0])
	except := map[string]bool{}
	for _, e := range args[1:] {
		except[ts.MkAbs(e)] = true
	}
	n := 0
	var leaks []string
	err := filepath.WalkDir(ts.Getenv("WORK"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, secret) && !except[path] {
			leaks = append(leaks, path)
		}
		n++
		return nil
	})
	ts.Check(err)
	if len(leaks) > 0 {
		return fmt.Errorf("the API key is in %s", strings.Join(leaks, ", "))
	}
	fmt.Fprintf(ts.Stdout(), "%d files checked\n", n)
	return nil
}

// xlsxformulas FILE: print how many cells of the workbook FILE hold a
// formula.
func cmdXLSXFormulas(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: xlsxformulas FILE")
	}
	zr, err := zip.OpenReader(ts.MkAbs(args[0]))
	ts.Check(err)
	defer zr.Close()
	n := 0
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/") {
			continue
		}
		rc, err := f.Open()
		ts.Check(err)
		b, err := io.ReadAll(rc)
		rc.Close()
		ts.Check(err)
		n += bytes.Count(b, []byte("<f>")) + bytes.Count(b, []byte("<f "))
	}
	fmt.Fprintf(ts.Stdout(), "%d formulas\n", n)
}

// jsonlines FILE [key=value...]: FILE (or stdout, stderr: the last
// command's) has at least one line, and each line is one JSON object, as
// --log-format json promises for standard error; each has every key given,
// with that value (as fmt prints it).
func checkJSONLines(ts *testscript.TestScript, args []string) error {
	if len(args) < 1 {
		ts.Fatalf("usage: jsonlines FILE|stdout|stderr [key=value...]")
	}
	want := map[string]string{}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("jsonlines: %q is not key=value", kv)
		}
		want[k] = v
	}
	text := ts.ReadFile(args[0])
	if text == "" {
		return fmt.Errorf("%s is empty", args[0])
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return fmt.Errorf("%s line %d is not a JSON object (%v): %q", args[0], i+1, err, line)
		}
		for k, v := range want {
			got, ok := obj[k]
			switch {
			case !ok:
				return fmt.Errorf("%s line %d has no %s: %q", args[0], i+1, k, line)
			case fmt.Sprint(got) != v:
				return fmt.Errorf("%s line %d: %s is %v, want %s: %q", args[0], i+1, k, got, v, line)
			}
		}
	}
	return nil
}
