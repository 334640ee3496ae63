package main

import (
	"os/exec"
	"strings"
	"testing"
)

// modulePath is this module's import path.
const modulePath = "github.com/complycube-session/createsession"

// TestShipsOnlyLambdaCode: neither bootstrap links code that only runs
// locally (internal/local) or only in tests and the benchmark
// (internal/testonly); every package of this module that one links lives
// where the README's layout says shipped code lives; and the create-session
// bootstrap links nothing of the webhook function (its core, the SNS
// client), which would only slow its cold start.
func TestShipsOnlyLambdaCode(t *testing.T) {
	for _, c := range []struct {
		dir       string
		forbidden []string
	}{
		{".", []string{modulePath + "/handler/webhook", "github.com/aws/aws-sdk-go-v2/service/sns", "github.com/golang-jwt/jwt/v5/request"}},
		{"../webhook", nil},
	} {
		cmd := exec.Command("go", "list", "-deps", ".")
		cmd.Dir = c.dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps in %s: %v", c.dir, err)
		}
		var own []string
		for _, pkg := range strings.Fields(string(out)) {
			for _, f := range c.forbidden {
				if pkg == f {
					t.Errorf("%s links %s", c.dir, pkg)
				}
			}
			if pkg != modulePath && !strings.HasPrefix(pkg, modulePath+"/") {
				continue
			}
			own = append(own, pkg)
			rel := strings.TrimPrefix(strings.TrimPrefix(pkg, modulePath), "/")
			switch {
			case rel == "handler", strings.HasPrefix(rel, "handler/"), strings.HasPrefix(rel, "cmd/"), strings.HasPrefix(rel, "internal/lambda/"):
			default:
				t.Errorf("the bootstrap of %s links %s, which is not shipped code (handler/ or internal/lambda/)", c.dir, pkg)
			}
		}
		if len(own) < 3 {
			t.Fatalf("go list -deps in %s found only %v: the check saw nothing", c.dir, own)
		}
	}
}
