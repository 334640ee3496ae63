package handler

import "github.com/complycube-session/createsession/handler/cors"

// ClientSource is how a request names the person to verify.
type ClientSource string

// The three sources (see docs/api.md, "Who is being verified").
const (
	// SourceRequest trusts the body's clientId.
	SourceRequest ClientSource = "request"
	// SourceSignup creates a client from the body's client.
	SourceSignup ClientSource = "signup"
	// SourceInvitation takes the client from the body's signed invitation.
	SourceInvitation ClientSource = "invitation"
)

// Config is what the rules need to know, already parsed and checked: the
// wiring in internal/lambda/sessionfn reads it from the environment.
type Config struct {
	ClientSource    ClientSource
	AllowedOrigins  cors.List
	RedirectOrigins cors.List // AnyOrigin: any https URL
	TemplateIDs     []string
	// SupportEmails is the supportEmail allowlist (first: the default).
	SupportEmails []string
	// BotCheck: a sign-up must pass the bot check first.
	BotCheck bool
	// SignupLimits bound sign-ups, counted across instances.
	SignupLimits SignupLimits
	// InvitationMaxSessions is how many sessions one invitation may start
	// over its life.
	InvitationMaxSessions int
}

// SignupLimits are the sign-up limits (0: the default).
type SignupLimits struct {
	PerIP    int // per source address (IPv6: its /64) per hour
	PerEmail int // per e-mail address per UTC day
	PerDay   int // new clients per UTC day, all callers together
}

// The defaults of the limits (docs/configuration.md).
const (
	DefaultSignupsPerIP          = 5
	DefaultSignupsPerEmail       = 3
	DefaultSignupsPerDay         = 200
	DefaultInvitationMaxSessions = 3
)
