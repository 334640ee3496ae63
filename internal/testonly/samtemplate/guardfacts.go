package samtemplate

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// What defends the operator's ComplyCube quota and tells the operator
// (CONTRACT.md, "On the open internet" and "Telling the operator"), as the
// deployed stack must have it: the sign-up guards' parameters and
// variables, each route's throttling, and the alarms.

// The variables of the sign-up guards (CONTRACT.md, "Configuration"),
// spelled out here rather than taken from package sessionfn: the contract
// fixes the names, and the template must carry them whoever reads them.
const (
	EnvBotCheck              = "BOT_CHECK"
	EnvSignupsPerIP          = "SIGNUPS_PER_IP"
	EnvSignupsPerEmail       = "SIGNUPS_PER_EMAIL"
	EnvSignupsPerDay         = "SIGNUPS_PER_DAY"
	EnvInvitationMaxSessions = "INVITATION_MAX_SESSIONS"
	EnvSupportEmails         = "SUPPORT_EMAILS"
)

// countParameters are the parameters behind the contract's numbers, each
// "a whole number from 1 up", and the contract's default for each.
var countParameters = map[string]string{
	"SignupsPerIp":          "5",
	"SignupsPerEmail":       "3",
	"SignupsPerDay":         "200",
	"InvitationMaxSessions": "3",
}

// guardParameterFacts: BotCheck is the operator's choice (no default, as
// ClientSource), exactly turnstile or off, each explained; the counts
// refuse 0 and default to the contract's values; the optional ones
// default to empty; the site key is an output exactly when it is given.
func guardParameterFacts(s *Stack) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	bc, ok := s.Parameters["BotCheck"]
	switch {
	case !ok:
		fail("no parameter BotCheck: the operator must choose the bot check")
	case bc.Default != nil || bc.Type != "String" || !slices.Equal(sorted(bc.AllowedValues), []string{"off", "turnstile"}):
		fail("BotCheck must be required with AllowedValues exactly turnstile and off (default %v, values %v): sam deploy --guided must ask, as for ClientSource", deref(bc.Default), bc.AllowedValues)
	default:
		for _, v := range bc.AllowedValues {
			if !strings.Contains(bc.Description, v+" - ") {
				fail("BotCheck's Description does not say what %s does", v)
			}
		}
	}
	for name, want := range countParameters {
		p, ok := s.Parameters[name]
		if !ok {
			fail("no parameter %s", name)
			continue
		}
		if p.Type != "Number" {
			fail("%s: Type %s, want Number", name, p.Type)
		}
		if lo, err := strconv.ParseFloat(p.MinValue, 64); err != nil || lo < 1 {
			fail("%s: MinValue %q, want 1: the function refuses 0 and stops at start", name, p.MinValue)
		}
		if d := deref(p.Default); d != want {
			fail("%s: default %v, want the contract's %s", name, d, want)
		}
		if v := s.Values[name]; !wholeFromOne(v) {
			fail("%s is %q, which is not a whole number from 1 up: the function would stop at start", name, v)
		}
	}
	for _, name := range []string{"SupportEmails", "TurnstileSiteKey"} {
		if p, ok := s.Parameters[name]; !ok || deref(p.Default) != "" {
			fail("%s must be an optional parameter with an empty default (present %v, default %v)", name, ok, deref(p.Default))
		}
	}
	// The site key is public and for the page: an output for the site's
	// widget, never a variable (the function verifies with the secret key).
	o, has := s.Outputs["TurnstileSiteKey"].(map[string]any)
	switch key := s.Values["TurnstileSiteKey"]; {
	case key != "" && (!has || o["Value"] != key):
		fail("TurnstileSiteKey %q: output TurnstileSiteKey is %v, want the key, for the site's widget", key, o["Value"])
	case key == "" && has:
		fail("TurnstileSiteKey is empty but the stack outputs %v: an output holds a value", o["Value"])
	}
	for id, r := range s.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		envProp, _ := r.Properties["Environment"].(map[string]any)
		vars, _ := envProp["Variables"].(map[string]any)
		for k := range vars {
			if strings.Contains(strings.ToUpper(k), "TURNSTILE_SECRET") {
				fail("%s has %s: the Turnstile secret key lives in the secret (turnstileSecretKey)", id, k)
			}
		}
	}
	return errs
}

func wholeFromOne(v string) bool {
	n, err := strconv.ParseFloat(v, 64)
	return err == nil && n >= 1 && n == math.Trunc(n)
}

// The limits that throttling is measured against (COMPLYCUBE.md, "Rate
// limits"; CONTRACT.md, "Throttling").
const (
	sandboxRate    = 5.0  // ComplyCube calls a second, sandbox key
	liveRate       = 10.0 // live key
	callsPerSignup = 2.0  // create the client, then the session
	// maxSessionsBurst: a burst of B sign-ups is 2B ComplyCube calls at
	// once, which a sandbox key (5 at once) takes for B <= 2
	// (TestSignupFlood: at 5, orphan clients).
	maxSessionsBurst = 2.0
	// ComplyCube delivers at most a few webhooks a second; its route must
	// take that many times over before a flood of forged ones pushes a
	// real delivery into a 429.
	minWebhooksRate = 20.0
	// The success page polls every 3 s: a limit of its own that serves a
	// few dozen visitors polling at once.
	minStatusRate = 10.0
)

// Route keys, as API Gateway and RouteSettings name them.
const (
	routeSessions = "POST /sessions"
	routeStatus   = "POST /sessions/status"
	routeWebhooks = "POST /webhooks"
)

// routeLimit is one route's throttling, as API Gateway applies it.
type routeLimit struct {
	rate, burst float64
	own         bool // from RouteSettings, not DefaultRouteSettings
}

// throttlingFacts: the stage throttles POST /sessions at the Sessions
// parameters, whose defaults are half of a sandbox key's rate with a small
// burst and whose maxima half of a live key's; the default route setting
// is no looser than that (the preflights, any later route); POST /webhooks
// and POST /sessions/status have limits of their own, well above it, so
// that neither a flood of sign-ups nor of polls nor of forged webhooks
// takes another route's places.
func throttlingFacts(s *Stack) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	rateDefault, _ := strconv.ParseFloat(scalar(deref(s.Parameters["SessionsRateLimit"].Default)), 64)
	burstDefault, _ := strconv.ParseFloat(scalar(deref(s.Parameters["SessionsBurstLimit"].Default)), 64)
	if half := sandboxRate / callsPerSignup; rateDefault <= 0 || rateDefault > half {
		fail("SessionsRateLimit default %v is over half of a sandbox key's rate (%v/s, two ComplyCube calls per sign-up): want at most %v", deref(s.Parameters["SessionsRateLimit"].Default), sandboxRate, half)
	}
	if burstDefault < 1 || burstDefault > maxSessionsBurst {
		fail("SessionsBurstLimit default %v, want a small burst from 1 to %v", deref(s.Parameters["SessionsBurstLimit"].Default), maxSessionsBurst)
	}
	if maxv, err := strconv.ParseFloat(s.Parameters["SessionsRateLimit"].MaxValue, 64); err != nil || maxv > liveRate/callsPerSignup {
		fail("SessionsRateLimit MaxValue %q, want at most %v (half of a live key's %v/s)", s.Parameters["SessionsRateLimit"].MaxValue, liveRate/callsPerSignup, liveRate)
	}
	if maxv, err := strconv.ParseFloat(s.Parameters["SessionsBurstLimit"].MaxValue, 64); err != nil || maxv > liveRate/callsPerSignup {
		fail("SessionsBurstLimit MaxValue %q, want at most %v", s.Parameters["SessionsBurstLimit"].MaxValue, liveRate/callsPerSignup)
	}
	errs = append(errs, routeSettingsLiteral(s)...)

	stages := 0
	for id, r := range s.Resources {
		if r.Type != "AWS::ApiGatewayV2::Stage" {
			continue
		}
		stages++
		drs, _ := r.Properties["DefaultRouteSettings"].(map[string]any)
		def, hasDef := limitOf(drs)
		rs, _ := r.Properties["RouteSettings"].(map[string]any)
		limit := func(route string) (routeLimit, bool) {
			if m, ok := rs[route].(map[string]any); ok {
				l, ok := limitOf(m)
				l.own = true
				if !ok {
					fail("stage %s: RouteSettings %q must set both ThrottlingRateLimit and ThrottlingBurstLimit (a route's setting does not inherit the default's)", id, route)
				}
				return l, ok
			}
			return def, hasDef
		}
		if !hasDef {
			fail("stage %s has no DefaultRouteSettings throttling: a route without its own limit (the preflights, any route added later) would have no route throttling", id)
		}
		sessions, ok := limit(routeSessions)
		if !ok {
			fail("stage %s: %s has no route throttling", id, routeSessions)
			continue
		}
		wantRate, wantBurst := s.Values["SessionsRateLimit"], s.Values["SessionsBurstLimit"]
		if scalar(sessions.rate) != wantRate || scalar(sessions.burst) != wantBurst {
			fail("stage %s: %s throttled at %v/s, burst %v, which does not come from SessionsRateLimit and SessionsBurstLimit (%s, %s)", id, routeSessions, sessions.rate, sessions.burst, wantRate, wantBurst)
		}
		if hasDef && def.rate > sessions.rate {
			fail("stage %s: DefaultRouteSettings %v/s is looser than %s (%v/s): a route without its own limit must be no looser than sign-ups", id, def.rate, routeSessions, sessions.rate)
		}
		for _, r := range []struct {
			route string
			min   float64
			why   string
		}{
			{routeWebhooks, minWebhooksRate, "a flood of forged webhooks must not push ComplyCube's real deliveries into 429s"},
			{routeStatus, minStatusRate, "polling every 3 s must never take sign-ups' places"},
		} {
			l, ok := limit(r.route)
			switch {
			case !ok || !l.own:
				fail("stage %s: %s has no route limit of its own in RouteSettings: %s", id, r.route, r.why)
			case l.rate < r.min || l.rate <= sessions.rate || l.burst < l.rate:
				fail("stage %s: %s throttled at %v/s, burst %v: want at least %v/s, above %s's %v/s, and a burst no smaller than the rate (%s)", id, r.route, l.rate, l.burst, r.min, routeSessions, sessions.rate, r.why)
			}
		}
	}
	if stages == 0 {
		fail("the stack has no HTTP API stage, so no route throttling")
	}
	return errs
}

// limitOf reads a route setting's throttling; ok only when both are
// numbers above 0.
func limitOf(m map[string]any) (routeLimit, bool) {
	rate, ok1 := m["ThrottlingRateLimit"].(float64)
	burst, ok2 := m["ThrottlingBurstLimit"].(float64)
	return routeLimit{rate: rate, burst: burst}, ok1 && ok2 && rate > 0 && burst > 0
}

// routeSettingsLiteral: an HTTP API's RouteSettings, a plain JSON map in
// CloudFormation, holds literal numbers: a Ref to a Number parameter there
// would reach API Gateway as a string (DefaultRouteSettings, typed, is
// where parameters go).
func routeSettingsLiteral(s *Stack) []error {
	var errs []error
	resources, _ := s.Source["Resources"].(map[string]any)
	for id, raw := range resources {
		r, _ := raw.(map[string]any)
		if r["Type"] != "AWS::Serverless::HttpApi" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		rs, _ := props["RouteSettings"].(map[string]any)
		for route, v := range rs {
			m, _ := v.(map[string]any)
			for k, x := range m {
				if _, ok := x.(float64); !ok {
					errs = append(errs, fmt.Errorf("%s: RouteSettings %q %s is %v, not a literal number: RouteSettings is plain JSON, where a Ref would reach API Gateway as a string", id, route, k, flat(x)))
				}
			}
		}
	}
	return errs
}

// alarmMetric is one metric an alarm reads.
type alarmMetric struct {
	id        string // the metric-math Id, "" for a one-metric alarm
	namespace string
	name      string
	dims      map[string]string
	stat      string
	period    float64
}

// alarm is an AWS::CloudWatch::Alarm of the stack, as the checks read it.
type alarm struct {
	id         string
	metrics    []alarmMetric
	expression string // the returned expression of a metric-math alarm
	threshold  float64
	comparison string
	periods    float64 // EvaluationPeriods
	missing    string  // TreatMissingData
}

// math says whether the alarm is on metric math rather than one metric.
func (a alarm) math() bool { return a.expression != "" }

// firesAt is the smallest whole count that puts the alarm in ALARM, 0 when
// a rising count never does.
func (a alarm) firesAt() float64 {
	switch a.comparison {
	case "GreaterThanOrEqualToThreshold":
		return math.Max(1, math.Ceil(a.threshold))
	case "GreaterThanThreshold":
		return math.Max(1, math.Floor(a.threshold)+1)
	}
	return 0
}

// window is how long a stretch the alarm sums over (its period times its
// evaluation periods).
func (a alarm) window() float64 {
	p := 0.0
	for _, m := range a.metrics {
		p = math.Max(p, m.period)
	}
	return p * math.Max(1, a.periods)
}

func (m alarmMetric) String() string {
	var dims []string
	for k, v := range m.dims {
		dims = append(dims, k+"="+v)
	}
	slices.Sort(dims)
	return m.namespace + " " + m.name + " {" + strings.Join(dims, ", ") + "}"
}

func (m alarmMetric) is(namespace, name string, dims map[string]string) bool {
	if m.namespace != namespace || m.name != name || len(m.dims) != len(dims) {
		return false
	}
	for k, v := range dims {
		if m.dims[k] != v {
			return false
		}
	}
	return true
}

// alarmsOf reads every alarm of the stack.
func alarmsOf(s *Stack) []alarm {
	var out []alarm
	readMetric := func(m map[string]any) alarmMetric {
		am := alarmMetric{namespace: scalar(m["Namespace"]), name: scalar(m["MetricName"]), dims: map[string]string{}}
		dims, _ := m["Dimensions"].([]any)
		for _, d := range dims {
			dm, _ := d.(map[string]any)
			am.dims[scalar(dm["Name"])] = scalar(dm["Value"])
		}
		return am
	}
	for id, r := range s.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := r.Properties
		a := alarm{id: id, comparison: scalar(p["ComparisonOperator"]), missing: scalar(p["TreatMissingData"])}
		a.threshold, _ = p["Threshold"].(float64)
		a.periods, _ = p["EvaluationPeriods"].(float64)
		if p["MetricName"] != nil {
			m := readMetric(p)
			m.stat = scalar(p["Statistic"])
			m.period, _ = p["Period"].(float64)
			a.metrics = append(a.metrics, m)
		}
		list, _ := p["Metrics"].([]any)
		for _, x := range list {
			q, _ := x.(map[string]any)
			if e, ok := q["Expression"].(string); ok && q["ReturnData"] != false {
				a.expression = e
			}
			stat, _ := q["MetricStat"].(map[string]any)
			if mm, ok := stat["Metric"].(map[string]any); ok {
				m := readMetric(mm)
				m.id = scalar(q["Id"])
				m.stat = scalar(stat["Stat"])
				m.period, _ = stat["Period"].(float64)
				a.metrics = append(a.metrics, m)
			}
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y alarm) int { return strings.Compare(x.id, y.id) })
	return out
}

// complyCubeRetries are the moments, in seconds after the first, of
// ComplyCube's first deliveries of one event (retries after 60 s, 120 s,
// 480 s, then longer; COMPLYCUBE.md, "Webhooks"). After ten failures it
// disables the webhook.
var complyCubeRetries = []float64{0, 60, 180, 660}

// alarmRule is one condition the contract wants an alarm for: a count
// metric of one function.
type alarmRule struct {
	namespace, metric string
	function          string            // logical ID
	dims              map[string]string // besides the function's
	maxFiresAt        float64           // the alarm fires at this count or fewer
	maxWindow         float64           // seconds
	// deliveries: the metric counts failed deliveries of ComplyCube's,
	// so the alarm must fire within one event's first attempts (before
	// ComplyCube's ten disable the webhook) and its window must hold them.
	deliveries bool
	anyForm    bool // a metric-math alarm that reads the metric will do
}

// alarmFacts: every alarm tells the AlertTopic, explains itself and
// treats missing data deliberately; each condition of the contract has its
// alarm, on the metric and dimensions the functions write, with a
// threshold that fires in time.
func alarmFacts(s *Stack) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	alarms := alarmsOf(s)
	for _, a := range alarms {
		p := s.Resources[a.id].Properties
		if !strings.Contains(flat(p["AlarmActions"]), "AlertTopic") {
			fail("alarm %s does not tell the AlertTopic", a.id)
		}
		if len(strings.TrimSpace(scalar(p["AlarmDescription"]))) < 40 {
			fail("alarm %s does not explain itself in its AlarmDescription", a.id)
		}
		if a.missing == "" {
			fail("alarm %s leaves TreatMissingData to CloudWatch's default (missing): choose it", a.id)
		}
	}

	names := functionNames(s)
	rules := []alarmRule{
		{namespace: "ComplyCubeCreateSession", metric: "KeyRejected", function: FunctionID, maxFiresAt: 1, maxWindow: 900},
		{namespace: "ComplyCubeCreateSession", metric: "Errors5xx", function: FunctionID, anyForm: true},
		{namespace: "AWS/Lambda", metric: "Errors", function: WebhookID, maxFiresAt: 1, maxWindow: 900},
		{namespace: "ComplyCubeCreateSession", metric: "WebhookSignatureFailures", function: WebhookID, deliveries: true},
		{namespace: "ComplyCubeCreateSession", metric: "WebhookPublishFailures", function: WebhookID, deliveries: true},
		{namespace: "ComplyCubeCreateSession", metric: "WebhookUnreadable", function: WebhookID, maxFiresAt: 1, maxWindow: 900},
		{namespace: "ComplyCubeCreateSession", metric: "SignupRefused", function: FunctionID, dims: map[string]string{"Reason": "day"}, maxFiresAt: 1, maxWindow: 86400},
	}
	// The key's reads, in every function that reads the secret.
	for _, id := range keysOf(s.Resources) {
		r := s.Resources[id]
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		if _, grants, err := roleGrants(s, r); err == nil && slices.ContainsFunc(grants, func(g Grant) bool { return g.Action == "secretsmanager:GetSecretValue" }) {
			rule := alarmRule{namespace: "ComplyCubeCreateSession", metric: "KeyReadFailures", function: id, maxFiresAt: 3, maxWindow: 900}
			if id == WebhookID {
				rule.deliveries = true
			}
			rules = append(rules, rule)
		}
	}
	for _, rule := range rules {
		errs = append(errs, checkAlarmRule(alarms, names, rule)...)
	}
	errs = append(errs, silenceAlarmFacts(alarms, names)...)
	errs = append(errs, stateAlarmFacts(s, alarms, names)...)
	return errs
}

// functionNames maps each function's logical ID to the name its metrics
// carry in their Function dimension (its FunctionName).
func functionNames(s *Stack) map[string]string {
	out := map[string]string{}
	for id, r := range s.Resources {
		if r.Type == "AWS::Lambda::Function" {
			out[id] = scalar(r.Properties["FunctionName"])
		}
	}
	return out
}

func checkAlarmRule(alarms []alarm, names map[string]string, rule alarmRule) []error {
	dims := map[string]string{"Function": names[rule.function]}
	if rule.namespace == "AWS/Lambda" {
		dims = map[string]string{"FunctionName": rule.function} // a Ref to the function: its name
	}
	for k, v := range rule.dims {
		dims[k] = v
	}
	want := alarmMetric{namespace: rule.namespace, name: rule.metric, dims: dims}
	var errs []error
	var found []alarm
	for _, a := range alarms {
		for _, m := range a.metrics {
			if m.is(rule.namespace, rule.metric, dims) && (rule.anyForm || !a.math()) {
				found = append(found, a)
				if m.stat != "Sum" {
					errs = append(errs, fmt.Errorf("alarm %s reads %v by %s: a count is summed (Sum)", a.id, want, m.stat))
				}
			}
		}
	}
	if len(found) == 0 {
		return []error{fmt.Errorf("no alarm on %s %s for %s (%v)", rule.namespace, rule.metric, dims[firstKey(dims)], want)}
	}
	if rule.anyForm {
		return errs
	}
	// One of them must fire in time.
	var why []string
	for _, a := range found {
		n, w := a.firesAt(), a.window()
		switch {
		case n == 0:
			why = append(why, fmt.Sprintf("%s: %s never fires on a rising count", a.id, a.comparison))
		case a.missing != "notBreaching":
			why = append(why, fmt.Sprintf("%s: TreatMissingData %q, want notBreaching (every line carries the count: no data is no traffic, not a failure)", a.id, a.missing))
		case rule.deliveries && int(n) > len(complyCubeRetries):
			why = append(why, fmt.Sprintf("%s fires at %v: ComplyCube disables the webhook after ten failed deliveries, over hours; the operator must hear within one event's first %d attempts", a.id, n, len(complyCubeRetries)))
		case rule.deliveries && w < complyCubeRetries[int(n)-1]+60:
			why = append(why, fmt.Sprintf("%s fires at %v in %v s: one event's first %v attempts take %v s, so one event never fires it", a.id, n, w, n, complyCubeRetries[int(n)-1]))
		case !rule.deliveries && n > rule.maxFiresAt:
			why = append(why, fmt.Sprintf("%s fires at %v, want %v or fewer", a.id, n, rule.maxFiresAt))
		case !rule.deliveries && w > rule.maxWindow:
			why = append(why, fmt.Sprintf("%s sums over %v s, want at most %v s", a.id, w, rule.maxWindow))
		default:
			return errs
		}
	}
	return append(errs, fmt.Errorf("the alarm on %v does not fire in time: %s", want, strings.Join(why, "; ")))
}

func firstKey(m map[string]string) string {
	if _, ok := m["Function"]; ok {
		return "Function"
	}
	return "FunctionName"
}

// silenceAlarmFacts: an alarm fires when sessions were created in the last
// 24 hours (create-session's 200s) but no verified webhook arrived (the
// webhook function's 200s, or its published events): metric math over one
// day that treats a day without webhooks, which has no data point, as 0.
func silenceAlarmFacts(alarms []alarm, names map[string]string) []error {
	created := map[string]string{"Function": names[FunctionID], "StatusCode": "200"}
	var why []string
	for _, a := range alarms {
		var sessions, webhooks *alarmMetric
		for i, m := range a.metrics {
			switch {
			case m.is("ComplyCubeCreateSession", "Requests", created):
				sessions = &a.metrics[i]
			case m.is("ComplyCubeCreateSession", "Webhooks", map[string]string{"Function": names[WebhookID], "StatusCode": "200"}),
				m.is("ComplyCubeCreateSession", "WebhookEventsPublished", map[string]string{"Function": names[WebhookID]}):
				webhooks = &a.metrics[i]
			}
		}
		if sessions == nil || webhooks == nil {
			continue
		}
		fill := regexp.MustCompile(`FILL\(\s*` + regexp.QuoteMeta(webhooks.id) + `\s*,\s*0\s*\)`)
		switch {
		case !a.math():
			why = append(why, a.id+" is not metric math")
		case sessions.period != 86400 || webhooks.period != 86400 || a.periods != 1:
			why = append(why, fmt.Sprintf("%s looks at %v s and %v s over %v periods: want the last 24 hours (Period 86400, one evaluation period)", a.id, sessions.period, webhooks.period, a.periods))
		case sessions.stat != "Sum" || webhooks.stat != "Sum":
			why = append(why, a.id+" does not sum its counts")
		case !fill.MatchString(a.expression):
			why = append(why, fmt.Sprintf("%s's expression %q does not FILL(%s, 0): a day without webhooks has no data point, and the alarm would never see it", a.id, a.expression, webhooks.id))
		case !strings.Contains(a.expression, sessions.id):
			why = append(why, fmt.Sprintf("%s's expression %q does not read the sessions (%s)", a.id, a.expression, sessions.id))
		case a.firesAt() != 1:
			why = append(why, fmt.Sprintf("%s fires at %v (%s %v), want 1: one silent session", a.id, a.firesAt(), a.comparison, a.threshold))
		case a.missing != "notBreaching":
			why = append(why, fmt.Sprintf("%s: TreatMissingData %q, want notBreaching (no data: no sessions, nothing expected)", a.id, a.missing))
		default:
			return nil
		}
	}
	if len(why) == 0 {
		return []error{fmt.Errorf("no silence alarm: none reads both create-session's Requests {StatusCode=200} and the webhook function's verified webhooks over 24 hours")}
	}
	return []error{fmt.Errorf("no working silence alarm: %s", strings.Join(why, "; "))}
}

// stateAlarmFacts: the shared table failing, for every function that uses
// it (each has STATE_TABLE), raises an alarm that fires at a few
// StateErrors; one alarm may add them up, each FILLed so that a quiet
// function does not blank the sum.
func stateAlarmFacts(s *Stack, alarms []alarm, names map[string]string) []error {
	var errs []error
	for _, id := range keysOf(names) {
		envProp, _ := s.Resources[id].Properties["Environment"].(map[string]any)
		vars, _ := envProp["Variables"].(map[string]any)
		if _, ok := vars[EnvStateTable]; !ok {
			continue // stateEnvFacts says so
		}
		dims := map[string]string{"Function": names[id]}
		var why []string
		ok := false
		for _, a := range alarms {
			for _, m := range a.metrics {
				if !m.is("ComplyCubeCreateSession", "StateErrors", dims) {
					continue
				}
				fill := regexp.MustCompile(`FILL\(\s*` + regexp.QuoteMeta(m.id) + `\s*,\s*0\s*\)`)
				switch {
				case m.stat != "Sum":
					why = append(why, a.id+" does not sum StateErrors")
				case a.math() && len(a.metrics) > 1 && !fill.MatchString(a.expression):
					why = append(why, fmt.Sprintf("%s's expression %q does not FILL(%s, 0): without traffic on that function the sum has no data point", a.id, a.expression, m.id))
				case a.firesAt() == 0 || a.firesAt() > 5 || a.window() > 900:
					why = append(why, fmt.Sprintf("%s fires at %v in %v s, want 5 or fewer in 15 minutes or less", a.id, a.firesAt(), a.window()))
				case a.missing != "notBreaching":
					why = append(why, fmt.Sprintf("%s: TreatMissingData %q, want notBreaching", a.id, a.missing))
				default:
					ok = true
				}
			}
		}
		switch {
		case ok:
		case len(why) == 0:
			errs = append(errs, fmt.Errorf("no alarm on ComplyCubeCreateSession StateErrors for %s: the shared table failing for %s would go unnoticed", names[id], id))
		default:
			errs = append(errs, fmt.Errorf("the alarm on StateErrors of %s does not work: %s", names[id], strings.Join(why, "; ")))
		}
	}
	return errs
}

// keysOf returns a map's keys, sorted.
func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SamConfigFacts checks samconfig.toml's parameter values, the example a
// reader copies: open sign-ups there come with the bot check on.
func SamConfigFacts(values map[string]string) []error {
	var errs []error
	if values["ClientSource"] == "signup" && values["BotCheck"] != "turnstile" {
		errs = append(errs, fmt.Errorf("ClientSource signup with BotCheck %q: the example must not deploy open sign-ups without the bot check", values["BotCheck"]))
	}
	if _, ok := values["BotCheck"]; !ok {
		errs = append(errs, fmt.Errorf("no BotCheck: the template requires it"))
	}
	return errs
}
