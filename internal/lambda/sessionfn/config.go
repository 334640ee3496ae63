package sessionfn

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/cors"
	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/complycube"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statestore"
)

// Environment variable names, as the README documents them.
// (Those that other functions read too are in package startup.)
const (
	EnvBaseURL                = "COMPLYCUBE_BASE_URL"
	EnvAllowedOrigins         = startup.EnvAllowedOrigins
	EnvAllowedRedirectOrigins = "ALLOWED_REDIRECT_ORIGINS"
	EnvWorkflowTemplateIDs    = "WORKFLOW_TEMPLATE_IDS"
	EnvUpstreamTimeout        = "UPSTREAM_TIMEOUT"
	EnvClientSource           = "CLIENT_SOURCE"
	EnvSignupsPerIP           = "SIGNUPS_PER_IP"
	EnvSignupsPerEmail        = "SIGNUPS_PER_EMAIL"
	EnvSignupsPerDay          = "SIGNUPS_PER_DAY"
	EnvInvitationMaxSessions  = "INVITATION_MAX_SESSIONS"
	EnvBotCheck               = "BOT_CHECK"
	EnvTurnstileVerifyURL     = "TURNSTILE_VERIFY_URL"
	EnvSupportEmails          = "SUPPORT_EMAILS"
)

// DefaultTurnstileVerifyURL is Cloudflare Turnstile's siteverify.
const DefaultTurnstileVerifyURL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"

// DefaultUpstreamTimeout bounds one call to ComplyCube.
const DefaultUpstreamTimeout = 5 * time.Second

// Config is the create-session function's configuration, parsed and
// checked: the rules' part (handler.Config) and what the wiring needs.
type Config struct {
	handler.Config
	SecretID string
	APIKey   string
	// InvitationKey and WebhookSecret: with APIKey, for local runs.
	InvitationKey      string
	WebhookSecret      string
	TurnstileSecretKey string
	BaseURL            string
	// FunctionName is the metrics' Function dimension: Lambda's
	// AWS_LAMBDA_FUNCTION_NAME, "local" elsewhere.
	FunctionName    string
	UpstreamTimeout time.Duration
	StateTable      string
	// TurnstileVerifyURL is siteverify's URL, with BotCheck.
	TurnstileVerifyURL string
	// AWS is the AWS configuration the secret and the table are reached
	// with (FromEnv reads it from the environment when either is
	// configured; the dev server loads the SDK's default chain). Nil: no
	// AWS.
	AWS *awsenv.Env
	// Warnings found while parsing, logged at start.
	Warnings []string
}

// LoadConfig reads the configuration through getenv. It never ignores a
// value it cannot parse.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		SecretID:           strings.TrimSpace(getenv(startup.EnvSecretID)),
		APIKey:             strings.TrimSpace(getenv(startup.EnvAPIKey)),
		InvitationKey:      strings.TrimSpace(getenv(startup.EnvInvitationKey)),
		WebhookSecret:      strings.TrimSpace(getenv(startup.EnvWebhookSecret)),
		TurnstileSecretKey: strings.TrimSpace(getenv(startup.EnvTurnstileKey)),
		BaseURL:            strings.TrimSpace(getenv(EnvBaseURL)),
		UpstreamTimeout:    DefaultUpstreamTimeout,
		StateTable:         strings.TrimSpace(getenv(statestore.EnvStateTable)),
		FunctionName:       strings.TrimSpace(getenv(startup.EnvFunctionName)),
	}
	c.ClientSource = handler.SourceRequest
	if c.FunctionName == "" {
		c.FunctionName = "local"
	}
	if c.SecretID != "" && c.APIKey != "" {
		c.Warnings = append(c.Warnings, startup.EnvSecretID+" and "+startup.EnvAPIKey+" are both set: the secret is used and "+startup.EnvAPIKey+" is ignored")
		c.APIKey = ""
	}
	if c.SecretID != "" {
		// The secret holds them all; local values would only confuse.
		c.InvitationKey, c.WebhookSecret, c.TurnstileSecretKey = "", "", ""
	}
	if c.InvitationKey != "" {
		if err := invitation.CheckKey([]byte(c.InvitationKey)); err != nil {
			return Config{}, &startup.ConfigError{Variable: startup.EnvInvitationKey, Err: err}
		}
	}
	switch v := handler.ClientSource(strings.TrimSpace(getenv(EnvClientSource))); v {
	case "":
	case handler.SourceRequest, handler.SourceSignup, handler.SourceInvitation:
		c.ClientSource = v
	default:
		return Config{}, &startup.ConfigError{Variable: EnvClientSource, Err: fmt.Errorf("%q is not request, signup or invitation", string(v))}
	}
	if c.ClientSource == handler.SourceRequest {
		c.Warnings = append(c.Warnings, EnvClientSource+" is request: the endpoint trusts any clientId it is sent, so anyone who learns a client ID can start a verification for that client (use signup or invitation on a site without a backend)")
	}
	if c.BaseURL == "" {
		c.BaseURL = complycube.DefaultBaseURL
	} else if err := complycube.CheckBaseURL(c.BaseURL); err != nil {
		return Config{}, &startup.ConfigError{Variable: EnvBaseURL, Err: err}
	}
	var err error
	if c.AllowedOrigins, err = cors.ParseList(getenv(EnvAllowedOrigins)); err != nil {
		return Config{}, &startup.ConfigError{Variable: EnvAllowedOrigins, Err: err}
	}
	if c.AllowedOrigins.AnyOrigin {
		c.Warnings = append(c.Warnings, EnvAllowedOrigins+" is *: any web site can call this endpoint (development only)")
	}
	if c.RedirectOrigins, err = cors.ParseList(getenv(EnvAllowedRedirectOrigins)); err != nil {
		return Config{}, &startup.ConfigError{Variable: EnvAllowedRedirectOrigins, Err: err}
	}
	if c.RedirectOrigins.Empty() {
		if c.AllowedOrigins.AnyOrigin || c.AllowedOrigins.Empty() {
			c.RedirectOrigins = cors.List{AnyOrigin: true}
		} else {
			c.RedirectOrigins = c.AllowedOrigins
		}
	}
	if c.RedirectOrigins.AnyOrigin {
		c.Warnings = append(c.Warnings, "no redirect allowlist applies ("+EnvAllowedRedirectOrigins+" and "+EnvAllowedOrigins+" are empty or *): successUrl and cancelUrl may be any https URL")
	}
	if v := strings.TrimSpace(getenv(EnvWorkflowTemplateIDs)); v != "" {
		for _, id := range strings.Split(v, ",") {
			id = strings.TrimSpace(id)
			if !api.ValidID(id) {
				return Config{}, &startup.ConfigError{Variable: EnvWorkflowTemplateIDs, Err: fmt.Errorf("%q is not 1 to 128 letters, digits, '_' or '-'", id)}
			}
			c.TemplateIDs = append(c.TemplateIDs, id)
		}
	}
	if v := strings.TrimSpace(getenv(EnvUpstreamTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, &startup.ConfigError{Variable: EnvUpstreamTimeout, Err: fmt.Errorf("%q is not a Go duration such as 5s or 1500ms", v)}
		}
		if d <= 0 || d > 25*time.Second {
			return Config{}, &startup.ConfigError{Variable: EnvUpstreamTimeout, Err: fmt.Errorf("%s is out of range: it must be above 0 and at most 25s (API Gateway gives up after 29s)", d)}
		}
		c.UpstreamTimeout = d
	}
	for _, n := range []struct {
		name string
		into *int
		def  int
	}{
		{EnvSignupsPerIP, &c.SignupLimits.PerIP, handler.DefaultSignupsPerIP},
		{EnvSignupsPerEmail, &c.SignupLimits.PerEmail, handler.DefaultSignupsPerEmail},
		{EnvSignupsPerDay, &c.SignupLimits.PerDay, handler.DefaultSignupsPerDay},
		{EnvInvitationMaxSessions, &c.InvitationMaxSessions, handler.DefaultInvitationMaxSessions},
	} {
		if *n.into, err = wholeNumber(getenv(n.name), n.def); err != nil {
			return Config{}, &startup.ConfigError{Variable: n.name, Err: err}
		}
	}
	switch v := strings.TrimSpace(getenv(EnvBotCheck)); v {
	case "", "off":
		if c.ClientSource == handler.SourceSignup {
			c.Warnings = append(c.Warnings, EnvBotCheck+" is off in signup mode: any script can create clients up to the sign-up limits (set it to turnstile on the open internet)")
		}
	case "turnstile":
		c.BotCheck = true
	default:
		return Config{}, &startup.ConfigError{Variable: EnvBotCheck, Err: fmt.Errorf("%q is not turnstile or off", v)}
	}
	c.TurnstileVerifyURL = DefaultTurnstileVerifyURL
	if v := strings.TrimSpace(getenv(EnvTurnstileVerifyURL)); v != "" {
		if err := complycube.CheckBaseURL(v); err != nil {
			return Config{}, &startup.ConfigError{Variable: EnvTurnstileVerifyURL, Err: err}
		}
		c.TurnstileVerifyURL = v
	}
	if v := strings.TrimSpace(getenv(EnvSupportEmails)); v != "" {
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if !handler.ValidEmail(e) {
				return Config{}, &startup.ConfigError{Variable: EnvSupportEmails, Err: fmt.Errorf("%q is not one e-mail address", e)}
			}
			c.SupportEmails = append(c.SupportEmails, e)
		}
	}
	return c, nil
}

// wholeNumber parses a whole number from 1 up; "" is def. 0, a negative
// number or anything else is an error: a limit is never silently off.
func wholeNumber(v string, def int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a whole number from 1 up", v)
	}
	return n, nil
}
