package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// modulePath is this module's import path.
const modulePath = "github.com/complycube-session/createsession"

// The dependency rule, one line per folder (docs/architecture.md):
//
//	handler/...           the standard library and small parsing libraries; never internal/ or the AWS SDK; no core imports another core
//	internal/lambda/...   may import handler/...; never internal/local or internal/testonly
//	internal/local/...    may import handler/... and internal/lambda/...; never internal/testonly
//	internal/testonly/... imported only by tests and bench/
//	cmd/...               wiring only: main calls run
//
// The cores are the packages that answer one function's requests.
var cores = []string{modulePath + "/handler", modulePath + "/handler/webhook", modulePath + "/handler/status"}

type listedPackage struct {
	ImportPath string
	Imports    []string // of the package's own (non-test) files
}

// TestDependencyRule checks every package of the module against the rule.
func TestDependencyRule(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "../../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, modulePath), "/")
		for _, imp := range p.Imports {
			if msg := breaksRule(p.ImportPath, rel, imp); msg != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, msg)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list found %d packages: the check saw nothing", seen)
	}
}

func breaksRule(path, rel, imp string) string {
	own := strings.TrimPrefix(strings.TrimPrefix(imp, modulePath), "/")
	isOwn := imp == modulePath || strings.HasPrefix(imp, modulePath+"/")
	switch {
	case rel == "handler" || strings.HasPrefix(rel, "handler/"):
		if isOwn && strings.HasPrefix(own, "internal/") {
			return "the core knows nothing of adapters or wiring"
		}
		if strings.HasPrefix(imp, "github.com/aws/") {
			return "the core knows nothing of AWS"
		}
		for _, c := range cores {
			if imp == c && isCore(path) {
				return "no core imports another core; what they share is a package of its own (handler/api)"
			}
		}
	case strings.HasPrefix(rel, "internal/lambda/"):
		if strings.HasPrefix(own, "internal/local/") || strings.HasPrefix(own, "internal/testonly/") {
			return "shipped code never links local-only or test-only code"
		}
	case strings.HasPrefix(rel, "internal/local/"):
		if strings.HasPrefix(own, "internal/testonly/") {
			return "the dev server never links test-only code"
		}
	}
	if isOwn && strings.HasPrefix(own, "internal/testonly/") && !strings.HasPrefix(rel, "internal/testonly/") && !strings.HasPrefix(rel, "bench") {
		return "only tests and bench/ use internal/testonly"
	}
	return ""
}

func isCore(path string) bool {
	for _, c := range cores {
		if path == c {
			return true
		}
	}
	return false
}

// sdkDefaultChain is what aws-sdk-go-v2/config links for credential
// sources a function never has: no bootstrap links it
// (internal/lambda/awsenv reads the function's environment instead), since
// its packages' initialisation alone costs a cold start about 0.8 ms of
// CPU.
var sdkDefaultChain = []string{
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/service/ssooidc",
	"github.com/aws/aws-sdk-go-v2/service/signin",
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
}

// TestShipsOnlyLambdaCode: no bootstrap links code that only runs locally
// (internal/local) or only in tests and the benchmark (internal/testonly);
// every package of this module that one links lives where shipped code
// lives; the create-session bootstrap links nothing of the webhook
// function (its core, the SNS client), which would only slow its cold
// start; cmd/invite links only the invitation package and the secret's
// reader, not the functions' adapters; the status function links no
// secret, ComplyCube or SNS code; and no bootstrap links the SDK's default
// credential chain (sdkDefaultChain).
func TestShipsOnlyLambdaCode(t *testing.T) {
	for _, c := range []struct {
		dir       string
		forbidden []string
		onlyOwn   []string // when set: the only packages of this module it may link
	}{
		{".", append([]string{modulePath + "/handler/webhook", "github.com/aws/aws-sdk-go-v2/service/sns", "github.com/golang-jwt/jwt/v5/request"}, sdkDefaultChain...), nil},
		{"../webhook", append([]string{modulePath + "/handler", modulePath + "/internal/lambda/complycube"}, sdkDefaultChain...), nil},
		{"../invite", nil, []string{"cmd/invite", "handler/invitation", "handler/api", "internal/lambda/secret"}},
		// The status function reads the table only: no secret, no
		// ComplyCube, no SNS, and neither of the other cores.
		{"../status", append([]string{"github.com/aws/aws-sdk-go-v2/service/secretsmanager", "github.com/aws/aws-sdk-go-v2/service/sns", modulePath + "/handler", modulePath + "/handler/webhook",
			modulePath + "/internal/lambda/complycube", modulePath + "/internal/lambda/secret"}, sdkDefaultChain...), nil},
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
			if c.onlyOwn != nil && !contains(c.onlyOwn, rel) {
				t.Errorf("%s links %s; it should link only %v", c.dir, pkg, c.onlyOwn)
			}
		}
		if len(own) < 3 {
			t.Fatalf("go list -deps in %s found only %v: the check saw nothing", c.dir, own)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
