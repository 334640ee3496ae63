package samtemplate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/complycube-session/createsession/internal/lambda/statestore"
	"github.com/complycube-session/createsession/internal/lambda/statusfn"
)

// The shared state (the contract's "Memory across instances") and the
// status function ("The person comes back"), as the deployed stack must
// have them.

// StateTableID is the logical ID of the shared state's DynamoDB table.
const StateTableID = "StateTable"

// StatusID is the logical ID of the status function.
const StatusID = "StatusFunction"

// EnvStateTable names the table for every function (the contract's
// Configuration).
const EnvStateTable = statestore.EnvStateTable

// stateTableARN is the table's ARN as the resolver writes Fn::GetAtt
// StateTable.Arn: the one resource any DynamoDB action may be granted on.
const stateTableARN = StateTableID + ".Arn"

// TableActions are the DynamoDB actions each function may use on the
// table, and no other: item by item, never Scan, Query, Batch* or
// anything on the table itself.
var TableActions = map[string][]string{
	// Sign-up and invitation counters (UpdateItem ADD with a condition,
	// PutItem to restart an expired one), status tokens (PutItem); it
	// reads nothing back.
	FunctionID: {"dynamodb:PutItem", "dynamodb:UpdateItem"},
	// Event claims (PutItem attribute_not_exists), their release
	// (DeleteItem), each client's status with a version condition
	// (PutItem); every decision a conditional write, nothing read back.
	WebhookID: {"dynamodb:DeleteItem", "dynamodb:PutItem"},
	// A status token, then its client's status.
	StatusID: {"dynamodb:GetItem"},
}

// withTable adds actions, each on the table's ARN, to a role's allowed map.
func withTable(allowed map[string]string, actions []string) map[string]string {
	for _, a := range actions {
		allowed[a] = stateTableARN
	}
	return allowed
}

// checkTableActions: the DynamoDB actions that fnID's role allows are
// exactly TableActions[fnID], each on the StateTable's ARN alone.
func checkTableActions(s *Stack, fnID string) []error {
	fn, ok := s.Resources[fnID]
	if !ok {
		return nil // the function's own facts say so
	}
	roleID, grants, err := roleGrants(s, fn)
	if err != nil {
		return []error{err}
	}
	var errs []error
	var got []string
	for _, g := range grants {
		if !strings.HasPrefix(strings.ToLower(g.Action), "dynamodb:") {
			continue
		}
		got = append(got, g.Action)
		if g.Resource != stateTableARN {
			errs = append(errs, fmt.Errorf("%s: role %s allows %s on %s, want only %s (the stack's StateTable, no index, no other table)", fnID, roleID, g.Action, g.Resource, stateTableARN))
		}
	}
	got = sorted(got)
	got = slices.Compact(got)
	if want := TableActions[fnID]; !slices.Equal(got, want) {
		errs = append(errs, fmt.Errorf("%s: role %s allows DynamoDB actions %v, want exactly %v on the StateTable", fnID, roleID, got, want))
	}
	return errs
}

// stateEnvFacts: every function of the stack has STATE_TABLE naming the
// StateTable. Without it a function keeps the shared state in its own
// instance's memory, silently: on Lambda, neither shared nor kept.
func stateEnvFacts(s *Stack) []error {
	var errs []error
	n := 0
	for id, r := range s.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		n++
		envProp, _ := r.Properties["Environment"].(map[string]any)
		vars, _ := envProp["Variables"].(map[string]any)
		if v, ok := vars[EnvStateTable]; !ok {
			errs = append(errs, fmt.Errorf("%s has no %s: it would keep the shared state in its own instance's memory", id, EnvStateTable))
		} else if v != StateTableID {
			errs = append(errs, fmt.Errorf("%s: %s is %q, want a Ref to the stack's %s", id, EnvStateTable, scalar(v), StateTableID))
		}
	}
	if n < 3 {
		errs = append(errs, fmt.Errorf("the stack has %d functions, want the create-session, webhook and status functions", n))
	}
	return errs
}

// stateTableFacts: the table is what the contract fixes: on-demand,
// partition key pk (a string) and no sort key, Time to Live on ttl,
// encrypted at rest; no index (no function may Query one).
func stateTableFacts(s *Stack) []error {
	t, ok := s.Resources[StateTableID]
	if !ok || t.Type != "AWS::DynamoDB::Table" {
		return []error{fmt.Errorf("the stack has no AWS::DynamoDB::Table %s", StateTableID)}
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(StateTableID+": "+format, args...))
	}
	for id, r := range s.Resources {
		if r.Type == "AWS::DynamoDB::Table" && id != StateTableID {
			fail("the stack has a second table %s: the shared state is one table", id)
		}
	}
	p := t.Properties
	if p["BillingMode"] != "PAY_PER_REQUEST" || p["ProvisionedThroughput"] != nil {
		fail("BillingMode %v (ProvisionedThroughput %v), want PAY_PER_REQUEST: nothing to pay while idle, nothing to plan", p["BillingMode"], p["ProvisionedThroughput"])
	}
	keys, _ := p["KeySchema"].([]any)
	if flat(keys) != "AttributeName=pk KeyType=HASH" {
		fail("KeySchema %v, want partition key pk and no sort key", flat(keys))
	}
	attrs, _ := p["AttributeDefinitions"].([]any)
	if flat(attrs) != "AttributeName=pk AttributeType=S" {
		fail("AttributeDefinitions %v, want pk as a string (S) and nothing else", flat(attrs))
	}
	ttl, _ := p["TimeToLiveSpecification"].(map[string]any)
	if ttl["AttributeName"] != "ttl" || ttl["Enabled"] != true {
		fail("TimeToLiveSpecification %v, want attribute ttl, enabled", flat(ttl))
	}
	sse, _ := p["SSESpecification"].(map[string]any)
	if sse["SSEEnabled"] != true {
		fail("SSESpecification %v, want SSEEnabled true (encryption at rest)", flat(sse))
	}
	if kms := sse["KMSMasterKeyId"]; kms != nil {
		fail("SSESpecification names KMS key %v: the functions' roles would need it; the AWS-managed key needs no grant", kms)
	}
	for _, k := range []string{"GlobalSecondaryIndexes", "LocalSecondaryIndexes"} {
		if p[k] != nil {
			fail("has %s: no function may Query, and the key schema is fixed", k)
		}
	}
	if o, _ := s.Outputs["StateTableName"].(map[string]any); o["Value"] != StateTableID {
		fail("output StateTableName is %v, want a Ref to the table", o["Value"])
	}
	return errs
}

// statusFacts: the status function is built like the others, on POST and
// OPTIONS /sessions/status of the same API as /sessions, with the
// create-session function's origins, its own JSON log group, a timeout
// its bounded reads fit in, and a role that may read items of the table
// and nothing else: no secret, no KMS key, no topic.
func statusFacts(s *Stack) []error {
	fn, ok := s.Resources[StatusID]
	if !ok || fn.Type != "AWS::Lambda::Function" {
		return []error{fmt.Errorf("the deployed stack has no AWS::Lambda::Function %s", StatusID)}
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	p := fn.Properties
	if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
		fail("%s: Runtime %v, Handler %v, want provided.al2023 and bootstrap", StatusID, p["Runtime"], p["Handler"])
	}
	if a, _ := p["Architectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		fail("%s: Architectures is %v, want [arm64]", StatusID, p["Architectures"])
	}
	if p["MemorySize"] != 256.0 {
		fail("%s: MemorySize is %v, want 256 (its cold start is CPU-bound like the others')", StatusID, p["MemorySize"])
	}
	// Its reads are bounded to about 2 s together; the page polls again.
	if secs, _ := p["Timeout"].(float64); secs < 3 || time.Duration(secs)*time.Second >= apiGatewayLimit {
		fail("%s: Timeout %v s, want room for its bounded reads (3 s or more) and under API Gateway's %v", StatusID, p["Timeout"], apiGatewayLimit)
	}

	envProp, _ := p["Environment"].(map[string]any)
	vars, _ := envProp["Variables"].(map[string]any)
	if got := scalar(vars["ALLOWED_ORIGINS"]); got != s.Values["AllowedOrigins"] {
		fail("%s: ALLOWED_ORIGINS is %q, want parameter AllowedOrigins (%q), as for /sessions", StatusID, got, s.Values["AllowedOrigins"])
	}
	for _, v := range []string{"COMPLYCUBE_SECRET_ID", "COMPLYCUBE_API_KEY", "WEBHOOK_SECRET", "INVITATION_KEY", "ALERT_TOPIC_ARN"} {
		if _, ok := vars[v]; ok {
			fail("%s has %s: the status function holds no secret and tells no topic", StatusID, v)
		}
	}
	env := map[string]string{}
	for k, v := range vars {
		env[k] = scalar(v)
	}
	if _, err := statusfn.LoadConfig(func(k string) string { return env[k] }); err != nil {
		fail("%s would refuse this configuration: %v", StatusID, err)
	}
	errs = append(errs, checkCertEnv(StatusID, vars)...)

	lc, _ := p["LoggingConfig"].(map[string]any)
	lg, _ := lc["LogGroup"].(string)
	if r, ok := s.Resources[lg]; lc["LogFormat"] != "JSON" || !ok || r.Type != "AWS::Logs::LogGroup" {
		fail("%s: LoggingConfig %v, want JSON into a log group of the stack", StatusID, flat(lc))
	} else {
		if scalar(r.Properties["RetentionInDays"]) != s.Values["LogRetentionDays"] {
			fail("%s: log retention %v does not come from LogRetentionDays", StatusID, r.Properties["RetentionInDays"])
		}
		if want := "/aws/lambda/" + scalar(p["FunctionName"]); r.Properties["LogGroupName"] != want {
			fail("%s: log group %v is not Lambda's default name %s", StatusID, r.Properties["LogGroupName"], want)
		}
		for id, other := range s.Resources {
			olc, _ := other.Properties["LoggingConfig"].(map[string]any)
			if id != StatusID && other.Type == "AWS::Lambda::Function" && olc["LogGroup"] == lg {
				fail("%s shares log group %s with %s: each function its own", StatusID, lg, id)
			}
		}
	}

	errs = append(errs, checkRoutes(s, StatusID, "/sessions/status", "post", "options")...)
	// The same API as /sessions: one origin for the page, the stage's
	// throttling on every route.
	var apis []string
	for id, r := range s.Resources {
		if r.Type == "AWS::ApiGatewayV2::Api" {
			apis = append(apis, id)
		}
	}
	if len(apis) != 1 {
		fail("the stack has HTTP APIs %v: /sessions/status must be on the same API as /sessions", sorted(apis))
	}

	// Least privilege, and the contract's "no secret in its permissions".
	errs = append(errs, checkRole(s, fn, withTable(map[string]string{}, TableActions[StatusID]))...)
	errs = append(errs, checkTableActions(s, StatusID)...)
	if roleID, grants, err := roleGrants(s, fn); err == nil {
		for _, g := range grants {
			service, _, _ := strings.Cut(strings.ToLower(g.Action), ":")
			switch service {
			case "secretsmanager", "kms":
				fail("%s: role %s allows %s: the status function holds no secret", StatusID, roleID, g.Action)
			case "sns":
				fail("%s: role %s allows %s: the status function tells no topic", StatusID, roleID, g.Action)
			}
		}
	}

	want := "https://SessionsApi.execute-api." + pseudo["AWS::Region"] + "." + pseudo["AWS::URLSuffix"] + "/sessions/status"
	if o, _ := s.Outputs["StatusEndpoint"].(map[string]any); o["Value"] != want {
		fail("output StatusEndpoint is %v, want %s", o["Value"], want)
	}
	return errs
}
