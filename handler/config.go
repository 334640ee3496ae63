package handler

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Environment variable names, as the README documents them.
const (
	EnvSecretID               = "COMPLYCUBE_SECRET_ID"
	EnvAPIKey                 = "COMPLYCUBE_API_KEY"
	EnvBaseURL                = "COMPLYCUBE_BASE_URL"
	EnvAllowedOrigins         = "ALLOWED_ORIGINS"
	EnvAllowedRedirectOrigins = "ALLOWED_REDIRECT_ORIGINS"
	EnvWorkflowTemplateIDs    = "WORKFLOW_TEMPLATE_IDS"
	EnvUpstreamTimeout        = "UPSTREAM_TIMEOUT"
	EnvClientSource           = "CLIENT_SOURCE"
	// EnvFunctionName is set by Lambda itself.
	EnvFunctionName = "AWS_LAMBDA_FUNCTION_NAME"
	// Local runs only, beside COMPLYCUBE_API_KEY: the secret's other values.
	EnvInvitationKey = "INVITATION_KEY"
	EnvWebhookSecret = "WEBHOOK_SECRET"
)

// ClientSource is how a request names the person to verify.
type ClientSource string

// The three sources (see the README's "Who is being verified").
const (
	// SourceRequest trusts the body's clientId.
	SourceRequest ClientSource = "request"
	// SourceSignup creates a client from the body's client.
	SourceSignup ClientSource = "signup"
	// SourceInvitation takes the client from the body's signed invitation.
	SourceInvitation ClientSource = "invitation"
)

// DefaultBaseURL is ComplyCube's production API.
const DefaultBaseURL = "https://api.complycube.com"

// DefaultUpstreamTimeout bounds one call to ComplyCube.
const DefaultUpstreamTimeout = 5 * time.Second

// Config is the function's configuration, parsed and validated.
type Config struct {
	SecretID string
	APIKey   string
	// InvitationKey and WebhookSecret: with APIKey, for local runs.
	InvitationKey string
	WebhookSecret string
	BaseURL       string
	ClientSource  ClientSource
	// FunctionName is the metrics' Function dimension: Lambda's
	// AWS_LAMBDA_FUNCTION_NAME, "local" elsewhere.
	FunctionName    string
	AllowedOrigins  OriginList
	RedirectOrigins OriginList // AnyOrigin: any https URL
	TemplateIDs     []string
	UpstreamTimeout time.Duration
	// Warnings found while parsing, logged at start.
	Warnings []string
}

// ConfigError names the variable that could not be parsed.
type ConfigError struct {
	Variable string
	Err      error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s: %v", e.Variable, e.Err) }
func (e *ConfigError) Unwrap() error { return e.Err }

// validID reports whether s is 1 to 128 letters, digits, '_' or '-': the
// form of ComplyCube IDs this endpoint accepts.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// LoadConfig reads the configuration through getenv. It never ignores a
// value it cannot parse.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		SecretID:        strings.TrimSpace(getenv(EnvSecretID)),
		APIKey:          strings.TrimSpace(getenv(EnvAPIKey)),
		InvitationKey:   strings.TrimSpace(getenv(EnvInvitationKey)),
		WebhookSecret:   strings.TrimSpace(getenv(EnvWebhookSecret)),
		BaseURL:         strings.TrimSpace(getenv(EnvBaseURL)),
		UpstreamTimeout: DefaultUpstreamTimeout,
		ClientSource:    SourceRequest,
		FunctionName:    strings.TrimSpace(getenv(EnvFunctionName)),
	}
	if c.FunctionName == "" {
		c.FunctionName = "local"
	}
	if c.SecretID != "" && c.APIKey != "" {
		c.Warnings = append(c.Warnings, EnvSecretID+" and "+EnvAPIKey+" are both set: the secret is used and "+EnvAPIKey+" is ignored")
		c.APIKey = ""
	}
	if c.SecretID != "" {
		// The secret holds them all; local values would only confuse.
		c.InvitationKey, c.WebhookSecret = "", ""
	}
	if len(c.InvitationKey) > 0 && len(c.InvitationKey) < 32 {
		return Config{}, &ConfigError{EnvInvitationKey, errors.New("is shorter than 32 bytes (make one with: openssl rand -base64 48)")}
	}
	switch v := ClientSource(strings.TrimSpace(getenv(EnvClientSource))); v {
	case "":
	case SourceRequest, SourceSignup, SourceInvitation:
		c.ClientSource = v
	default:
		return Config{}, &ConfigError{EnvClientSource, fmt.Errorf("%q is not request, signup or invitation", string(v))}
	}
	if c.ClientSource == SourceRequest {
		c.Warnings = append(c.Warnings, EnvClientSource+" is request: the endpoint trusts any clientId it is sent, so anyone who learns a client ID can start a verification for that client (use signup or invitation on a site without a backend)")
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	} else if err := CheckBaseURL(c.BaseURL); err != nil {
		return Config{}, &ConfigError{EnvBaseURL, err}
	}
	var err error
	if c.AllowedOrigins, err = parseOriginList(getenv(EnvAllowedOrigins)); err != nil {
		return Config{}, &ConfigError{EnvAllowedOrigins, err}
	}
	if c.AllowedOrigins.AnyOrigin {
		c.Warnings = append(c.Warnings, EnvAllowedOrigins+" is *: any web site can call this endpoint (development only)")
	}
	if c.RedirectOrigins, err = parseOriginList(getenv(EnvAllowedRedirectOrigins)); err != nil {
		return Config{}, &ConfigError{EnvAllowedRedirectOrigins, err}
	}
	if c.RedirectOrigins.Empty() {
		if c.AllowedOrigins.AnyOrigin || c.AllowedOrigins.Empty() {
			c.RedirectOrigins = OriginList{AnyOrigin: true}
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
			if !validID(id) {
				return Config{}, &ConfigError{EnvWorkflowTemplateIDs, fmt.Errorf("%q is not 1 to 128 letters, digits, '_' or '-'", id)}
			}
			c.TemplateIDs = append(c.TemplateIDs, id)
		}
	}
	if v := strings.TrimSpace(getenv(EnvUpstreamTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, &ConfigError{EnvUpstreamTimeout, fmt.Errorf("%q is not a Go duration such as 5s or 1500ms", v)}
		}
		if d <= 0 || d > 25*time.Second {
			return Config{}, &ConfigError{EnvUpstreamTimeout, fmt.Errorf("%s is out of range: it must be above 0 and at most 25s (API Gateway gives up after 29s)", d)}
		}
		c.UpstreamTimeout = d
	}
	return c, nil
}

// CheckBaseURL reports whether base can be ComplyCube's base URL: an
// absolute http(s) URL with a host.
func CheckBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base URL %q is not an absolute http(s) URL", base)
	}
	return nil
}

// LogWarnings writes the configuration's warnings to log.
func (c Config) LogWarnings(log *slog.Logger) {
	for _, w := range c.Warnings {
		log.Warn(w)
	}
}
