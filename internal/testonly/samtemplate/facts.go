package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

// ContractVariables are the variables of the contract the function must get
// from the template, and the parameter each comes from.
var ContractVariables = map[string]string{
	startup.EnvSecretID:                 "ComplyCubeSecretArn",
	sessionfn.EnvBaseURL:                "ComplyCubeBaseUrl",
	sessionfn.EnvAllowedOrigins:         "AllowedOrigins",
	sessionfn.EnvAllowedRedirectOrigins: "AllowedRedirectOrigins",
	sessionfn.EnvWorkflowTemplateIDs:    "WorkflowTemplateIds",
	sessionfn.EnvUpstreamTimeout:        "UpstreamTimeout",
	sessionfn.EnvClientSource:           "ClientSource",
	// What guards sign-ups (guardfacts.go).
	EnvBotCheck:              "BotCheck",
	EnvSignupsPerIP:          "SignupsPerIp",
	EnvSignupsPerEmail:       "SignupsPerEmail",
	EnvSignupsPerDay:         "SignupsPerDay",
	EnvInvitationMaxSessions: "InvitationMaxSessions",
	EnvSupportEmails:         "SupportEmails",
}

// API Gateway gives up on an integration after this long.
const apiGatewayLimit = 29 * time.Second

// basicExecutionRole is the one managed policy a function's role may carry:
// the one SAM adds, which lets the function write its own logs.
const basicExecutionRole = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

// Facts checks what the project promises about the stack that AWS would
// deploy from its template, for the parameter values it was deployed with.
// root is the repository.
func Facts(s *Stack, root string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	param := func(name string) string { return s.Values[name] }

	fn, ok := s.Resources[FunctionID]
	if !ok || fn.Type != "AWS::Lambda::Function" {
		return []error{fmt.Errorf("the deployed stack has no AWS::Lambda::Function %s", FunctionID)}
	}
	p := fn.Properties
	if p["Runtime"] != "provided.al2023" {
		fail("Runtime is %v, want provided.al2023", p["Runtime"])
	}
	if p["Handler"] != "bootstrap" {
		fail("Handler is %v, want bootstrap", p["Handler"])
	}
	if a, _ := p["Architectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		fail("Architectures is %v, want [arm64]", p["Architectures"])
	}
	errs = append(errs, checkBuild(s.Source, root)...)
	// 256 MB: the size BENCHMARKS.md's memory-size table chose.
	if p["MemorySize"] != 256.0 {
		fail("MemorySize is %v, want 256", p["MemorySize"])
	}

	// Timeout: under API Gateway's limit, and room for the key read, a call
	// and its retry at UPSTREAM_TIMEOUT, and the handler's margin.
	upstream, err := time.ParseDuration(param("UpstreamTimeout"))
	if err != nil {
		fail("UpstreamTimeout %q: %v", param("UpstreamTimeout"), err)
	}
	if secs, ok := p["Timeout"].(float64); !ok {
		fail("no Timeout")
	} else {
		timeout := time.Duration(secs) * time.Second
		need := 3*time.Second + 2*upstream + api.DeadlineMargin
		if timeout >= apiGatewayLimit {
			fail("Timeout %v is not under API Gateway's %v", timeout, apiGatewayLimit)
		}
		if timeout < need {
			fail("Timeout %v leaves no room for the key read, a call and its retry at UPSTREAM_TIMEOUT %v (%v)", timeout, upstream, need)
		}
	}

	// Environment: every contract variable, from its parameter, and a
	// configuration the function accepts.
	envProp, _ := p["Environment"].(map[string]any)
	vars, _ := envProp["Variables"].(map[string]any)
	env := map[string]string{}
	for k, v := range vars {
		env[k] = scalar(v)
	}
	for v, pn := range ContractVariables {
		got, ok := env[v]
		if !ok {
			fail("environment variable %s is not set", v)
		} else if got != param(pn) {
			fail("%s is %q, want parameter %s (%q)", v, got, pn, param(pn))
		}
	}
	if _, err := sessionfn.LoadConfig(func(k string) string { return env[k] }); err != nil {
		fail("the function would refuse this configuration: %v", err)
	}
	errs = append(errs, checkCertEnv(FunctionID, vars)...)

	errs = append(errs, checkRoutes(s, FunctionID, "/sessions", "post", "options")...)
	errs = append(errs, throttlingFacts(s)...)

	// Least privilege: the function's role reads the one secret, when one
	// is given decrypts with the one KMS key through Secrets Manager, and
	// uses the items of the one table that it needs.
	errs = append(errs, checkRole(s, fn, withTable(map[string]string{
		"secretsmanager:GetSecretValue": param("ComplyCubeSecretArn"),
		"kms:Decrypt":                   param("SecretKmsKeyArn"),
	}, TableActions[FunctionID]))...)
	errs = append(errs, checkTableActions(s, FunctionID)...)
	for id, r := range s.Resources {
		if path := findStar(r.Properties, id); path != "" {
			fail("a * resource or action at %s", path)
		}
	}

	// Logs: JSON, into a log group of the stack with a retention.
	lc, _ := p["LoggingConfig"].(map[string]any)
	if lc["LogFormat"] != "JSON" {
		fail("LoggingConfig.LogFormat is %v, want JSON", lc["LogFormat"])
	}
	lg, _ := lc["LogGroup"].(string)
	if r, ok := s.Resources[lg]; !ok || r.Type != "AWS::Logs::LogGroup" {
		fail("LoggingConfig.LogGroup %q is not a log group of this stack", lg)
	} else {
		if scalar(r.Properties["RetentionInDays"]) != param("LogRetentionDays") {
			fail("log retention %v does not come from LogRetentionDays", r.Properties["RetentionInDays"])
		}
		if want := "/aws/lambda/" + scalar(p["FunctionName"]); r.Properties["LogGroupName"] != want {
			fail("log group %v is not Lambda's default name %s, where the console and sam logs look", r.Properties["LogGroupName"], want)
		}
	}
	if d := s.Parameters["LogRetentionDays"].Default; d == nil || *d != "30" {
		fail("LogRetentionDays default is %v, want 30", deref(d))
	}

	// Parameters a person can act on.
	for name, pp := range s.Parameters {
		if len(strings.TrimSpace(pp.Description)) < 20 {
			fail("parameter %s has no useful Description", name)
		}
	}
	if pp := s.Parameters["ComplyCubeSecretArn"]; pp.AllowedPattern == "" || pp.Default != nil {
		fail("ComplyCubeSecretArn must be required and have an AllowedPattern")
	}
	if pp := s.Parameters["AllowedOrigins"]; pp.Default != nil {
		fail("AllowedOrigins must be required")
	}
	// ClientSource: no silent default (sam deploy --guided asks), exactly
	// the three sources, and a description of what each risks.
	if pp := s.Parameters["ClientSource"]; pp.Default != nil || !slices.Equal(sorted(pp.AllowedValues), []string{"invitation", "request", "signup"}) {
		fail("ClientSource must be required with AllowedValues request, signup and invitation (default %v, values %v)", deref(pp.Default), pp.AllowedValues)
	} else {
		for _, src := range pp.AllowedValues {
			if !strings.Contains(pp.Description, src+" - ") {
				fail("ClientSource's Description does not say what %s risks", src)
			}
		}
	}

	errs = append(errs, webhookFacts(s)...)
	errs = append(errs, statusFacts(s)...)
	errs = append(errs, stateTableFacts(s)...)
	errs = append(errs, stateEnvFacts(s)...)
	errs = append(errs, guardParameterFacts(s)...)
	errs = append(errs, alarmFacts(s)...)

	// Outputs.
	if o, _ := s.Outputs["FunctionName"].(map[string]any); o["Value"] != FunctionID {
		fail("output FunctionName is %v, want a Ref to %s", o["Value"], FunctionID)
	}
	want := "https://SessionsApi.execute-api." + pseudo["AWS::Region"] + "." + pseudo["AWS::URLSuffix"] + "/sessions"
	if o, _ := s.Outputs["SessionsEndpoint"].(map[string]any); o["Value"] != want {
		fail("output SessionsEndpoint is %v, want the full https URL of SessionsApi's /sessions (%s)", o["Value"], want)
	}
	return errs
}

// checkCertEnv: the function gets the Go runtime settings the benchmark
// measures (lambdaemu.TemplateRuntimeEnv): AL2023's roots parsed once, one
// scheduler thread.
func checkCertEnv(id string, vars map[string]any) []error {
	var errs []error
	for _, kv := range lambdaemu.TemplateRuntimeEnv {
		k, v, _ := strings.Cut(kv, "=")
		if got := scalar(vars[k]); got != v {
			errs = append(errs, fmt.Errorf("%s: %s is %q, want %q (what the benchmark measured)", id, k, got, v))
		}
	}
	return errs
}

// WebhookID is the logical ID of the webhook function.
const WebhookID = "WebhookFunction"

// webhookFacts: the webhook function is built like the other, on POST
// /webhooks of the same API, with the secret and the topic and a role that
// may read the one and publish to the other, nothing else.
func webhookFacts(s *Stack) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	fn, ok := s.Resources[WebhookID]
	if !ok || fn.Type != "AWS::Lambda::Function" {
		return []error{fmt.Errorf("the deployed stack has no AWS::Lambda::Function %s", WebhookID)}
	}
	p := fn.Properties
	if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
		fail("%s: Runtime %v, Handler %v", WebhookID, p["Runtime"], p["Handler"])
	}
	if a, _ := p["Architectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		fail("%s: Architectures is %v, want [arm64]", WebhookID, p["Architectures"])
	}
	// ComplyCube waits 15 s for an answer.
	if secs, _ := p["Timeout"].(float64); secs <= 8 || secs >= 15 {
		fail("%s: Timeout %v s, want above the 8 s publish bound and under ComplyCube's 15 s", WebhookID, p["Timeout"])
	}
	envProp, _ := p["Environment"].(map[string]any)
	vars, _ := envProp["Variables"].(map[string]any)
	if vars["COMPLYCUBE_SECRET_ID"] != s.Values["ComplyCubeSecretArn"] || vars["ALERT_TOPIC_ARN"] != "AlertTopic" {
		fail("%s: environment %v, want COMPLYCUBE_SECRET_ID from ComplyCubeSecretArn and ALERT_TOPIC_ARN the AlertTopic", WebhookID, vars)
	}
	if t, ok := s.Resources["AlertTopic"]; !ok || t.Type != "AWS::SNS::Topic" {
		fail("no AWS::SNS::Topic AlertTopic")
	}
	lc, _ := p["LoggingConfig"].(map[string]any)
	if lg, _ := lc["LogGroup"].(string); lc["LogFormat"] != "JSON" || s.Resources[lg].Type != "AWS::Logs::LogGroup" {
		fail("%s: LoggingConfig %v, want JSON into a log group of the stack", WebhookID, lc)
	}
	errs = append(errs, checkCertEnv(WebhookID, vars)...)
	errs = append(errs, checkRoutes(s, WebhookID, "/webhooks", "post")...)
	errs = append(errs, checkRole(s, fn, withTable(map[string]string{
		"secretsmanager:GetSecretValue": s.Values["ComplyCubeSecretArn"],
		"sns:Publish":                   "arn:aws:sns:" + pseudo["AWS::Region"] + ":" + pseudo["AWS::AccountId"] + ":AlertTopic.TopicName",
		"kms:Decrypt":                   s.Values["SecretKmsKeyArn"],
	}, TableActions[WebhookID]))...)
	errs = append(errs, checkTableActions(s, WebhookID)...)
	want := "https://SessionsApi.execute-api." + pseudo["AWS::Region"] + "." + pseudo["AWS::URLSuffix"] + "/webhooks"
	if o, _ := s.Outputs["WebhookEndpoint"].(map[string]any); o["Value"] != want {
		fail("output WebhookEndpoint is %v, want %s", o["Value"], want)
	}
	// AlarmEmail: a subscription exactly when an address is given.
	var subs []Resource
	for _, r := range s.Resources {
		if r.Type == "AWS::SNS::Subscription" {
			subs = append(subs, r)
		}
	}
	switch email := s.Values["AlarmEmail"]; {
	case email == "" && len(subs) != 0:
		fail("AlarmEmail is empty but the stack subscribes %v", subs[0].Properties["Endpoint"])
	case email != "" && (len(subs) != 1 || subs[0].Properties["Endpoint"] != email || subs[0].Properties["Protocol"] != "email" || subs[0].Properties["TopicArn"] != "AlertTopic"):
		fail("AlarmEmail %s: subscriptions %v, want one e-mail subscription to AlertTopic", email, subs)
	}
	return errs
}

// checkBuild: every function of the template is built by `sam build`
// through the Makefile at its CodeUri, which has its build-<ID> target.
func checkBuild(source map[string]any, root string) []error {
	var errs []error
	resources, _ := source["Resources"].(map[string]any)
	globals, _ := source["Globals"].(map[string]any)
	fnGlobals, _ := globals["Function"].(map[string]any)
	n := 0
	for id, raw := range resources {
		r, _ := raw.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		n++
		md, _ := r["Metadata"].(map[string]any)
		if md["BuildMethod"] != "makefile" {
			errs = append(errs, fmt.Errorf("%s: Metadata.BuildMethod is %v, want makefile (the one build, with the project's flags)", id, md["BuildMethod"]))
		}
		props, _ := r["Properties"].(map[string]any)
		codeURI, ok := props["CodeUri"].(string)
		if !ok {
			codeURI, _ = fnGlobals["CodeUri"].(string)
		}
		mk, err := os.ReadFile(filepath.Join(root, codeURI, "Makefile"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: CodeUri %q has no Makefile for sam build: %v", id, codeURI, err))
			continue
		}
		if !regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(id) + `:`).Match(mk) {
			errs = append(errs, fmt.Errorf("%s: the Makefile at CodeUri %q has no build-%s target", id, codeURI, id))
		}
	}
	if n == 0 {
		errs = append(errs, fmt.Errorf("the template has no AWS::Serverless::Function"))
	}
	return errs
}

// checkRoutes: the stack's HTTP API routes each method of path to fnID
// and has no CORS configuration of its own (the function answers CORS).
func checkRoutes(s *Stack, fnID, path string, methods ...string) []error {
	var errs []error
	found := map[string]bool{}
	for id, r := range s.Resources {
		if r.Type != "AWS::ApiGatewayV2::Api" {
			continue
		}
		body, _ := r.Properties["Body"].(map[string]any)
		if _, ok := body["x-amazon-apigateway-cors"]; ok {
			errs = append(errs, fmt.Errorf("%s has a CORS configuration: the function answers CORS itself", id))
		}
		paths, _ := body["paths"].(map[string]any)
		ops, _ := paths[path].(map[string]any)
		for _, m := range methods {
			op, _ := ops[m].(map[string]any)
			integ, _ := op["x-amazon-apigateway-integration"].(map[string]any)
			uri, _ := integ["uri"].(string)
			if strings.Contains(uri, "/functions/"+fnID+".Arn/invocations") {
				found[m] = true
			}
		}
	}
	for _, m := range methods {
		if !found[m] {
			errs = append(errs, fmt.Errorf("no HTTP API route %s %s to %s", strings.ToUpper(m), path, fnID))
		}
	}
	return errs
}

// checkRole: the function's role allows exactly the actions in allowed,
// each on its one resource ("" means the action must not be granted), and
// no managed policy but basicExecutionRole.
func checkRole(s *Stack, fn Resource, allowed map[string]string) []error {
	roleID, grants, err := roleGrants(s, fn)
	if err != nil {
		return []error{err}
	}
	var errs []error
	managed, _ := s.Resources[roleID].Properties["ManagedPolicyArns"].([]any)
	for _, m := range managed {
		if m != basicExecutionRole {
			errs = append(errs, fmt.Errorf("role %s has managed policy %v: only writing its logs (%s) may come from a managed policy", roleID, m, basicExecutionRole))
		}
	}
	granted := map[string]bool{}
	for _, g := range grants {
		want, ok := allowed[g.Action]
		if !ok || want == "" {
			errs = append(errs, fmt.Errorf("role %s allows %s, which the function does not need", roleID, g.Action))
			continue
		}
		if g.Resource != want {
			errs = append(errs, fmt.Errorf("role %s allows %s on %s, want only %s (%s)", roleID, g.Action, g.Resource, want, resourceOrigin(want)))
		}
		if g.Action == "kms:Decrypt" && !strings.Contains(g.Condition, "secretsmanager.") {
			errs = append(errs, fmt.Errorf("role %s allows kms:Decrypt other than through Secrets Manager", roleID))
		}
		granted[g.Action] = true
	}
	for action, res := range allowed {
		if res != "" && !granted[action] {
			errs = append(errs, fmt.Errorf("role %s does not allow %s on %s", roleID, action, res))
		}
	}
	return errs
}

// resourceOrigin says where the one resource an action may be granted on
// comes from, for the messages.
func resourceOrigin(res string) string {
	switch {
	case res == stateTableARN:
		return "the stack's StateTable"
	case strings.Contains(res, ":sns:"):
		return "the stack's AlertTopic"
	case strings.Contains(res, ":kms:"):
		return "parameter SecretKmsKeyArn"
	}
	return "parameter ComplyCubeSecretArn"
}

// Grant is one action that a statement of a role allows.
type Grant struct {
	Action    string
	Resource  string // flat: space-separated and sorted when a list
	Condition string // flat
}

// roleGrants returns the ID of the function's role (a role of the stack)
// and every action its inline policies allow.
func roleGrants(s *Stack, fn Resource) (string, []Grant, error) {
	roleRef, _ := fn.Properties["Role"].(string)
	roleID, _, _ := strings.Cut(roleRef, ".")
	role, ok := s.Resources[roleID]
	if !ok || role.Type != "AWS::IAM::Role" {
		return "", nil, fmt.Errorf("the function's Role %q is not a role of this stack", roleRef)
	}
	var grants []Grant
	policies, _ := role.Properties["Policies"].([]any)
	for _, pol := range policies {
		pm, _ := pol.(map[string]any)
		doc, _ := pm["PolicyDocument"].(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		for _, st := range stmts {
			sm, _ := st.(map[string]any)
			if sm["Effect"] != "Allow" {
				continue
			}
			for _, action := range strings.Fields(flat(sm["Action"])) {
				grants = append(grants, Grant{Action: action, Resource: flat(sm["Resource"]), Condition: flat(sm["Condition"])})
			}
		}
	}
	return roleID, grants, nil
}

// flat writes a policy value (a string, a list, a map) as space-separated
// text, sorted, for comparison and searching.
func flat(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		var parts []string
		for _, x := range t {
			parts = append(parts, flat(x))
		}
		slices.Sort(parts)
		return strings.Join(parts, " ")
	case map[string]any:
		var parts []string
		for k, x := range t {
			parts = append(parts, k+"="+flat(x))
		}
		slices.Sort(parts)
		return strings.Join(parts, " ")
	}
	return scalar(v)
}

// findStar returns the path of a "*" Resource or Action anywhere, or "".
func findStar(v any, path string) string {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if (k == "Resource" || k == "Action" || k == "NotResource" || k == "NotAction") && containsStar(x) {
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

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
