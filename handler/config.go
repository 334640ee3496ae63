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
}
