package main

import (
	"os/exec"
	"strings"
	"testing"
)

// modulePath is this module's import path.
const modulePath = "github.com/complycube-session/createsession"

// TestShipsOnlyLambdaCode: the bootstrap links none of the code that only
// runs locally (internal/local) or only in tests and the benchmark
// (internal/testonly), and every package of this module that it does link
// lives where the README's layout says shipped code lives.
func TestShipsOnlyLambdaCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var own []string
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != modulePath && !strings.HasPrefix(pkg, modulePath+"/") {
			continue
		}
		own = append(own, pkg)
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, modulePath), "/")
		switch {
		case rel == "handler", rel == "cmd/createsession", strings.HasPrefix(rel, "internal/lambda/"):
		default:
			t.Errorf("the bootstrap links %s, which is not shipped code (handler/ or internal/lambda/)", pkg)
		}
	}
	if len(own) < 3 {
		t.Fatalf("go list -deps found only %v: the check saw nothing", own)
	}
}
