package samtemplate

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/complycube-session/createsession/handler"
)

// ContractVariables are the variables of the contract the function must get
// from the template, and the parameter each comes from.
var ContractVariables = map[string]string{
	handler.EnvSecretID:               "ComplyCubeSecretArn",
	handler.EnvBaseURL:                "ComplyCubeBaseUrl",
	handler.EnvAllowedOrigins:         "AllowedOrigins",
	handler.EnvAllowedRedirectOrigins: "AllowedRedirectOrigins",
	handler.EnvWorkflowTemplateIDs:    "WorkflowTemplateIds",
	handler.EnvUpstreamTimeout:        "UpstreamTimeout",
}

// API Gateway gives up on an integration after this long.
const apiGatewayLimit = 29 * time.Second

// Facts checks what the project promises about its template, for the
// parameter values it was loaded with. root is the repository.
func Facts(t *Template, values map[string]string, root string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	param := func(name string) string {
		if v, ok := values[name]; ok {
			return v
		}
		if p, ok := t.Parameters[name]; ok && p.Default != nil {
			return *p.Default
		}
		return ""
	}

	fn, err := t.Function()
	if err != nil {
		return []error{fmt.Errorf("no %s: %w", FunctionID, err)}
	}
	res := t.Raw["Resources"].(map[string]any)
	fnRaw := res[FunctionID].(map[string]any)
	props := fnRaw["Properties"].(map[string]any)

	if fn.Runtime == nil || *fn.Runtime != "provided.al2023" {
		fail("Runtime is %v, want provided.al2023", deref(fn.Runtime))
	}
	if fn.Handler == nil || *fn.Handler != "bootstrap" {
		fail("Handler is %v, want bootstrap", deref(fn.Handler))
	}
	if len(fn.Architectures) != 1 || fn.Architectures[0] != "arm64" {
		fail("Architectures is %v, want [arm64]", fn.Architectures)
	}
	if md, _ := fnRaw["Metadata"].(map[string]any); md["BuildMethod"] != "go1.x" {
		fail("Metadata.BuildMethod is %v, want go1.x", md["BuildMethod"])
	}
	if fn.CodeUri == nil || fn.CodeUri.String == nil {
		fail("CodeUri is not a path")
	} else if err := isMainPackage(filepath.Join(root, *fn.CodeUri.String)); err != nil {
		fail("CodeUri %s: %v", *fn.CodeUri.String, err)
	}
	if fn.MemorySize == nil || *fn.MemorySize != 128 {
		fail("MemorySize is %v, want 128", deref(fn.MemorySize))
	}

	// Timeout: under API Gateway's limit, and room for the key read, a call
	// and its retry at UPSTREAM_TIMEOUT, and the handler's margin.
	upstream, err := time.ParseDuration(param("UpstreamTimeout"))
	if err != nil {
		fail("UpstreamTimeout default %q: %v", param("UpstreamTimeout"), err)
	}
	if fn.Timeout == nil {
		fail("no Timeout")
	} else {
		timeout := time.Duration(*fn.Timeout) * time.Second
		need := 3*time.Second + 2*upstream + handler.DeadlineMargin
		if timeout >= apiGatewayLimit {
			fail("Timeout %v is not under API Gateway's %v", timeout, apiGatewayLimit)
		}
		if timeout < need {
			fail("Timeout %v leaves no room for the key read, a call and its retry at UPSTREAM_TIMEOUT %v (%v)", timeout, upstream, need)
		}
	}

	// Environment: every contract variable, from its parameter, and a
	// configuration the function accepts.
	env := map[string]string{}
	if fn.Environment != nil {
		env = fn.Environment.Variables
	}
	for v, p := range ContractVariables {
		got, ok := env[v]
		if !ok {
			fail("environment variable %s is not set", v)
		} else if got != param(p) {
			fail("%s is %q, want parameter %s (%q)", v, got, p, param(p))
		}
	}
	if _, err := handler.LoadConfig(func(k string) string { return env[k] }); err != nil {
		fail("the function would refuse this configuration: %v", err)
	}

	// Routes: POST and OPTIONS /sessions on the stack's HttpApi.
	routes := map[string]string{}
	for name, ev := range fn.Events {
		if ev.Type != "HttpApi" || ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
			continue
		}
		h := ev.Properties.HttpApiEvent
		api, _ := deref(h.ApiId).(string)
		if r, ok := res[api].(map[string]any); !ok || r["Type"] != "AWS::Serverless::HttpApi" {
			fail("event %s: ApiId %q is not an AWS::Serverless::HttpApi of this template", name, api)
		}
		routes[strings.ToUpper(fmt.Sprint(deref(h.Method)))+" "+fmt.Sprint(deref(h.Path))] = api
	}
	for _, want := range []string{"POST /sessions", "OPTIONS /sessions"} {
		if _, ok := routes[want]; !ok {
			fail("no HttpApi route %s", want)
		}
	}

	// The HttpApi: throttled, and no CORS of its own (the function does it).
	for name, r := range res {
		rm := r.(map[string]any)
		if rm["Type"] != "AWS::Serverless::HttpApi" {
			continue
		}
		p, _ := rm["Properties"].(map[string]any)
		if _, ok := p["CorsConfiguration"]; ok {
			fail("%s has a CorsConfiguration: the function answers CORS itself", name)
		}
		drs, _ := p["DefaultRouteSettings"].(map[string]any)
		rate, _ := drs["ThrottlingRateLimit"].(float64)
		burst, _ := drs["ThrottlingBurstLimit"].(float64)
		if rate <= 0 || burst <= 0 {
			fail("%s has no route throttling", name)
		}
		if fmt.Sprint(rate) != param("ThrottlingRateLimit") || fmt.Sprint(burst) != param("ThrottlingBurstLimit") {
			fail("%s throttling %v/%v does not come from the Throttling parameters", name, rate, burst)
		}
	}
	// Defaults under ComplyCube's sandbox limit (5/s), maxima at its live
	// limit (10/s).
	for _, name := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
		p := t.Parameters[name]
		def, err1 := strconv.ParseFloat(fmt.Sprint(deref(p.Default)), 64)
		maxv, err2 := strconv.ParseFloat(p.MaxValue, 64)
		if err1 != nil || err2 != nil || def > 5 || maxv > 10 {
			fail("%s: default %v and MaxValue %q must stay within ComplyCube's limits (5/s sandbox, 10/s live)", name, deref(p.Default), p.MaxValue)
		}
	}
	if rate, _ := strconv.ParseFloat(param("ThrottlingRateLimit"), 64); rate >= 5 && values["ThrottlingRateLimit"] == "" {
		fail("ThrottlingRateLimit default %v is not under ComplyCube's sandbox limit of 5/s", rate)
	}

	// Least privilege.
	errs = append(errs, checkPolicies(props["Policies"], param("ComplyCubeSecretArn"), param("SecretKmsKeyArn"))...)
	if path := findStar(t.Raw, ""); path != "" {
		fail("a * resource at %s", path)
	}

	// Logs: JSON, into a log group of the template with a retention.
	lc, _ := props["LoggingConfig"].(map[string]any)
	if lc["LogFormat"] != "JSON" {
		fail("LoggingConfig.LogFormat is %v, want JSON", lc["LogFormat"])
	}
	lg, _ := lc["LogGroup"].(string)
	if r, ok := res[lg].(map[string]any); !ok || r["Type"] != "AWS::Logs::LogGroup" {
		fail("LoggingConfig.LogGroup %q is not a log group of this template", lg)
	} else {
		p, _ := r["Properties"].(map[string]any)
		if fmt.Sprint(p["RetentionInDays"]) != param("LogRetentionDays") {
			fail("log retention %v does not come from LogRetentionDays", p["RetentionInDays"])
		}
	}
	if d := t.Parameters["LogRetentionDays"].Default; d == nil || *d != "30" {
		fail("LogRetentionDays default is %v, want 30", deref(d))
	}

	// Parameters a person can act on.
	for name, p := range t.Parameters {
		if len(strings.TrimSpace(p.Description)) < 20 {
			fail("parameter %s has no useful Description", name)
		}
	}
	if p := t.Parameters["ComplyCubeSecretArn"]; p.AllowedPattern == "" || p.Default != nil {
		fail("ComplyCubeSecretArn must be required and have an AllowedPattern")
	}
	if p := t.Parameters["AllowedOrigins"]; p.Default != nil {
		fail("AllowedOrigins must be required")
	}

	// Outputs.
	outs, _ := t.Raw["Outputs"].(map[string]any)
	if o, _ := outs["FunctionName"].(map[string]any); o["Value"] != FunctionID {
		fail("output FunctionName is %v, want a Ref to %s", o["Value"], FunctionID)
	}
	if _, ok := outs["SessionsEndpoint"]; !ok {
		fail("no SessionsEndpoint output")
	}
	return errs
}

// EndpointOutput checks, on the unresolved template, that SessionsEndpoint
// is the full URL of the HttpApi's /sessions route.
func EndpointOutput(data []byte) error {
	var doc struct {
		Outputs map[string]struct{ Value any }
	}
	if err := yamlParams(data, &doc); err != nil {
		return err
	}
	v, _ := json.Marshal(doc.Outputs["SessionsEndpoint"].Value)
	s := string(v)
	if !strings.Contains(s, "https://${SessionsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/sessions") {
		return fmt.Errorf("SessionsEndpoint is %s, want the full https URL of SessionsApi's /sessions", s)
	}
	return nil
}

func checkPolicies(policies any, secretArn, kmsArn string) []error {
	var errs []error
	list, _ := policies.([]any)
	sawSecret, sawKMS := false, false
	for _, p := range list {
		switch pm := p.(type) {
		case string:
			errs = append(errs, fmt.Errorf("managed policy %q: only the secret read is allowed", pm))
		case map[string]any:
			if sp, ok := pm["AWSSecretsManagerGetSecretValuePolicy"].(map[string]any); ok {
				if sp["SecretArn"] != secretArn {
					errs = append(errs, fmt.Errorf("AWSSecretsManagerGetSecretValuePolicy is on %v, want the ComplyCubeSecretArn parameter", sp["SecretArn"]))
				}
				sawSecret = true
				continue
			}
			stmts, ok := pm["Statement"].([]any)
			if !ok {
				errs = append(errs, fmt.Errorf("unexpected policy %v", pm))
				continue
			}
			for _, s := range stmts {
				st, _ := s.(map[string]any)
				if st["Action"] != "kms:Decrypt" || st["Resource"] != kmsArn || kmsArn == "" {
					errs = append(errs, fmt.Errorf("statement %v: only kms:Decrypt on SecretKmsKeyArn is allowed", st))
				}
				sawKMS = true
			}
		}
	}
	if !sawSecret {
		errs = append(errs, fmt.Errorf("no AWSSecretsManagerGetSecretValuePolicy"))
	}
	if kmsArn != "" && !sawKMS {
		errs = append(errs, fmt.Errorf("SecretKmsKeyArn is set but no kms:Decrypt is granted"))
	}
	return errs
}

// findStar returns the path of a "*" Resource or Action anywhere, or "".
func findStar(v any, path string) string {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if (k == "Resource" || k == "Action" || k == "NotResource") && containsStar(x) {
				return path + "." + k
			}
			if p := findStar(x, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, x := range t {
			if p := findStar(x, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func containsStar(v any) bool {
	switch t := v.(type) {
	case string:
		return t == "*" || strings.HasSuffix(t, ":*")
	case []any:
		for _, x := range t {
			if containsStar(x) {
				return true
			}
		}
	}
	return false
}

func isMainPackage(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
	}
	return fmt.Errorf("no package main in %s", dir)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
