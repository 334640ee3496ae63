package sessionfn_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/lambda/startup"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := sessionfn.LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != "https://api.complycube.com" || cfg.UpstreamTimeout != 5*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	if !cfg.AllowedOrigins.Empty() || !cfg.RedirectOrigins.AnyOrigin || len(cfg.TemplateIDs) != 0 {
		t.Errorf("origins/templates: %+v", cfg)
	}
}

func TestConfigValues(t *testing.T) {
	env := map[string]string{
		"COMPLYCUBE_SECRET_ID":     "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cc-AbCdEf",
		"COMPLYCUBE_API_KEY":       "test_x",
		"ALLOWED_ORIGINS":          " https://A.example:443 , http://localhost:8000,https://[::1]:8443",
		"ALLOWED_REDIRECT_ORIGINS": "",
		"WORKFLOW_TEMPLATE_IDS":    "wt_1, wt-2",
		"UPSTREAM_TIMEOUT":         "1500ms",
		"CLIENT_SOURCE":            "signup",
		"BOT_CHECK":                "turnstile",
		"SIGNUPS_PER_IP":           "7",
		"SUPPORT_EMAILS":           "help@a.example, Desk@A.example",
	}
	cfg, err := sessionfn.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.AllowedOrigins.String(); got != "https://a.example,http://localhost:8000,https://[::1]:8443" {
		t.Errorf("origins %q", got)
	}
	if cfg.RedirectOrigins.String() != cfg.AllowedOrigins.String() {
		t.Errorf("redirect origins default to %q", cfg.RedirectOrigins)
	}
	if cfg.APIKey != "" || len(cfg.Warnings) != 1 {
		t.Errorf("secret and key both set: key %q, warnings %q", cfg.APIKey, cfg.Warnings)
	}
	if cfg.UpstreamTimeout != 1500*time.Millisecond || len(cfg.TemplateIDs) != 2 || cfg.TemplateIDs[0] != "wt_1" || cfg.ClientSource != handler.SourceSignup {
		t.Errorf("%+v", cfg)
	}
	if !cfg.BotCheck || cfg.TurnstileVerifyURL != sessionfn.DefaultTurnstileVerifyURL || cfg.SignupLimits != (handler.SignupLimits{PerIP: 7, PerEmail: 3, PerDay: 200}) || cfg.InvitationMaxSessions != 3 {
		t.Errorf("open-internet settings %+v", cfg.Config)
	}
	if len(cfg.SupportEmails) != 2 || cfg.SupportEmails[1] != "Desk@A.example" {
		t.Errorf("support e-mails %q", cfg.SupportEmails)
	}
}

// TestOpenInternetWarnings: signup without the bot check, and a shared
// state only in memory, are said at start.
func TestOpenInternetWarnings(t *testing.T) {
	cfg, err := sessionfn.LoadConfig(func(k string) string {
		return map[string]string{"COMPLYCUBE_API_KEY": "test_x", "CLIENT_SOURCE": "signup"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(cfg.Warnings, "\n"); !strings.Contains(w, "BOT_CHECK is off in signup mode") {
		t.Errorf("warnings %q", cfg.Warnings)
	}
}

// TestConfigErrors: a value that cannot be parsed is an error naming its
// variable, never silently ignored.
func TestConfigErrors(t *testing.T) {
	tests := []struct{ variable, value string }{
		{"UPSTREAM_TIMEOUT", "5"},
		{"SIGNUPS_PER_IP", "0"},
		{"SIGNUPS_PER_IP", "-1"},
		{"SIGNUPS_PER_EMAIL", "three"},
		{"SIGNUPS_PER_DAY", "1.5"},
		{"INVITATION_MAX_SESSIONS", "0"},
		{"BOT_CHECK", "recaptcha"},
		{"BOT_CHECK", "on"},
		{"TURNSTILE_VERIFY_URL", "ftp://x"},
		{"SUPPORT_EMAILS", "help@a.example, not an address"},
		{"UPSTREAM_TIMEOUT", "-1s"},
		{"UPSTREAM_TIMEOUT", "0s"},
		{"UPSTREAM_TIMEOUT", "1m"},
		{"ALLOWED_ORIGINS", "app.example.com"},
		{"ALLOWED_ORIGINS", "https://app.example.com/"},
		{"ALLOWED_ORIGINS", "https://a.example,*"},
		{"ALLOWED_ORIGINS", "ftp://a.example"},
		{"ALLOWED_ORIGINS", "https://a.example,"},
		{"ALLOWED_ORIGINS", "https://user@a.example"},
		{"ALLOWED_REDIRECT_ORIGINS", "https://a.example:99999"},
		{"ALLOWED_REDIRECT_ORIGINS", "https://a.example/path"},
		{"WORKFLOW_TEMPLATE_IDS", "wt 1"},
		{"WORKFLOW_TEMPLATE_IDS", "wt_1,,wt_2"},
		{"COMPLYCUBE_BASE_URL", "api.complycube.com"},
		{"COMPLYCUBE_BASE_URL", "ftp://api.complycube.com"},
	}
	for _, tc := range tests {
		_, err := sessionfn.LoadConfig(func(k string) string {
			if k == tc.variable {
				return tc.value
			}
			return ""
		})
		var ce *startup.ConfigError
		if !errors.As(err, &ce) || ce.Variable != tc.variable {
			t.Errorf("%s=%q: got %v, want an error naming %s", tc.variable, tc.value, err, tc.variable)
		}
	}
}

// TestClientSource: the three sources, request by default with a warning
// at start, anything else a configuration error naming the variable.
func TestClientSource(t *testing.T) {
	for in, want := range map[string]handler.ClientSource{"": handler.SourceRequest, "request": handler.SourceRequest, "signup": handler.SourceSignup, " invitation ": handler.SourceInvitation} {
		cfg, err := sessionfn.LoadConfig(func(k string) string { return map[string]string{"CLIENT_SOURCE": in}[k] })
		if err != nil || cfg.ClientSource != want {
			t.Errorf("CLIENT_SOURCE=%q: %v %v", in, cfg.ClientSource, err)
		}
		warned := strings.Contains(strings.Join(cfg.Warnings, "\n"), "CLIENT_SOURCE is request")
		if warned != (want == handler.SourceRequest) {
			t.Errorf("CLIENT_SOURCE=%q: warnings %q", in, cfg.Warnings)
		}
	}
	for _, bad := range []string{"Signup", "client", "both"} {
		_, err := sessionfn.LoadConfig(func(k string) string { return map[string]string{"CLIENT_SOURCE": bad}[k] })
		var ce *startup.ConfigError
		if !errors.As(err, &ce) || ce.Variable != "CLIENT_SOURCE" {
			t.Errorf("CLIENT_SOURCE=%q: %v", bad, err)
		}
	}
	_, err := sessionfn.LoadConfig(func(k string) string { return map[string]string{"INVITATION_KEY": "short"}[k] })
	var ce *startup.ConfigError
	if !errors.As(err, &ce) || ce.Variable != "INVITATION_KEY" {
		t.Errorf("a short INVITATION_KEY: %v", err)
	}
}
