package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The binary must not link the spec validator the tests put in front of
// the fake (internal/contract): kin-openapi and its JSON-schema engine would
// add start-up time, size and attack surface for a check only tests need.
// An import of gen/linqspec, internal/contract or an embedded spec in
// gen/linq would bring them back.
func TestBinaryDoesNotLinkSpecValidator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/getkin/kin-openapi/",
		"github.com/santhosh-tekuri/jsonschema/",
		"github.com/bulksync/bulksync/internal/contract",
		"github.com/bulksync/bulksync/gen/linqspec",
	}
	var pkgs int
	for pkg := range strings.Lines(string(out)) {
		pkg = strings.TrimSpace(pkg)
		pkgs++
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("bulksync links %s", pkg)
			}
		}
	}
	// Guard against a listing that says nothing: the binary surely links
	// the engine.
	if !strings.Contains(string(out), "github.com/bulksync/bulksync/sync\n") {
		t.Fatalf("go list -deps does not list package sync (%d packages):\n%s", pkgs, out)
	}
}
