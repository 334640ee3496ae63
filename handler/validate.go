package handler

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/cors"
	"github.com/complycube-session/createsession/handler/invitation"
)

// MaxBodyBytes is the largest request body accepted, after base64 decoding.
const MaxBodyBytes = 16 << 10

// Limits on field lengths.
const (
	maxURLLength   = 2048
	maxEmailLength = 254
	maxNameLength  = 100 // characters of a person's or company's name
)

// SessionRequest is what ComplyCube's /v1/flow/sessions receives: the
// validated fields only, strings never arrays, in ComplyCube's field names.
type SessionRequest struct {
	ClientID           string `json:"clientId"`
	WorkflowTemplateID string `json:"workflowTemplateId"`
	SuccessURL         string `json:"successUrl"`
	CancelURL          string `json:"cancelUrl"`
	Theme              string `json:"theme,omitempty"`
	SupportEmail       string `json:"supportEmail,omitempty"`
	ShortURL           *bool  `json:"shortUrl,omitempty"`
}

// NewClient is what ComplyCube's /v1/clients receives in signup mode:
// exactly the validated fields.
type NewClient struct {
	Type           string          `json:"type"`
	Email          string          `json:"email"`
	PersonDetails  *PersonDetails  `json:"personDetails,omitempty"`
	CompanyDetails *CompanyDetails `json:"companyDetails,omitempty"`
}

// PersonDetails names a person.
type PersonDetails struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// CompanyDetails names a company.
type CompanyDetails struct {
	Name string `json:"name"`
}

// validRequest is a body that passed validation: the session's fields and,
// by the client source, the new client or the invitation token.
type validRequest struct {
	session    SessionRequest
	client     *NewClient // signup
	invitation string     // invitation
	botToken   string     // signup with the bot check: never sent to ComplyCube
}

// fieldError is a 400 invalid_request; param is "" when no one field is at
// fault.
type fieldError struct {
	param   string
	message string
}

func (e *fieldError) Error() string { return e.message }

func invalid(param, format string, args ...any) *fieldError {
	return &fieldError{param: param, message: fmt.Sprintf(format, args...)}
}

var knownFields = []string{"clientId", "client", "invitation", "workflowTemplateId", "successUrl", "cancelUrl", "theme", "supportEmail", "shortUrl", "turnstileToken"}

// maxBotTokenLength bounds the bot check's token (Turnstile's are about
// 2 KB at most).
const maxBotTokenLength = 2048

// Validator checks a request body against the contract and the
// configuration's allowlists.
type Validator struct {
	TemplateIDs     []string
	RedirectOrigins cors.List
	Source          ClientSource // "" is SourceRequest
	// BotCheck: a sign-up must carry turnstileToken.
	BotCheck bool
	// SupportEmails is the supportEmail allowlist; its first address is
	// sent when a request names none.
	SupportEmails []string
}

// personFields are the fields that name the person to verify, each taken
// by one client source only.
var personFields = map[string]ClientSource{"clientId": SourceRequest, "client": SourceSignup, "invitation": SourceInvitation}

// Validate decodes body, which must be exactly one JSON object with only
// ComplyCube's workflow-session fields (the person named the way the
// client source takes), and checks every field.
func (v Validator) Validate(body []byte) (validRequest, *fieldError) {
	fields, ferr := decodeObject(body)
	if ferr != nil {
		return validRequest{}, ferr
	}
	source := v.Source
	if source == "" {
		source = SourceRequest
	}
	var out validRequest
	r := &out.session
	var err *fieldError
	for _, name := range knownFields {
		if want, ok := personFields[name]; ok && want != source {
			if _, present := fields[name]; present {
				return out, invalid(name, "'%s' is not taken here: this endpoint names the person by '%s'", name, sourceField(source))
			}
		}
	}
	switch source {
	case SourceRequest:
		if r.ClientID, err = idField(fields, "clientId", true); err != nil {
			return out, err
		}
	case SourceSignup:
		m, ok := fields["client"]
		if !ok {
			return out, invalid("client", "'client' is required")
		}
		if out.client, err = parseClient(m); err != nil {
			return out, err
		}
	case SourceInvitation:
		m, ok := fields["invitation"]
		if !ok {
			return out, invalid("invitation", "'invitation' is required")
		}
		if m.kind != '"' || m.str == "" || len(m.str) > invitation.MaxLength {
			return out, invalidInvitation
		}
		out.invitation = m.str
	}
	// An invitation may name the template itself; whether one is missing
	// is then known only once the token is read.
	required := len(v.TemplateIDs) == 0 && source != SourceInvitation
	if r.WorkflowTemplateID, err = idField(fields, "workflowTemplateId", required); err != nil {
		return out, err
	}
	if len(v.TemplateIDs) > 0 {
		if r.WorkflowTemplateID == "" {
			r.WorkflowTemplateID = v.TemplateIDs[0]
		} else if !slices.Contains(v.TemplateIDs, r.WorkflowTemplateID) {
			return out, invalid("workflowTemplateId", "'workflowTemplateId' is not one this endpoint allows")
		}
	}
	if r.SuccessURL, err = v.urlField(fields, "successUrl"); err != nil {
		return out, err
	}
	if r.CancelURL, err = v.urlField(fields, "cancelUrl"); err != nil {
		return out, err
	}
	if m, ok := fields["theme"]; ok {
		if m.kind != '"' || (m.str != "light" && m.str != "dark") {
			return out, invalid("theme", "'theme' must be \"light\" or \"dark\"")
		}
		r.Theme = m.str
	}
	if m, ok := fields["supportEmail"]; ok {
		if m.kind != '"' || !validEmail(m.str) {
			return out, invalid("supportEmail", "'supportEmail' must be one e-mail address of at most %d characters", maxEmailLength)
		}
		// The address is shown on the operator's verification pages: where
		// anyone can call (signup, invitation) only the operator's own.
		switch {
		case len(v.SupportEmails) > 0 && !containsFold(v.SupportEmails, m.str):
			return out, invalid("supportEmail", "'supportEmail' is not one this endpoint allows")
		case len(v.SupportEmails) == 0 && source != SourceRequest:
			return out, invalid("supportEmail", "'supportEmail' is not taken here: the operator's support address is used")
		}
		r.SupportEmail = m.str
	} else if len(v.SupportEmails) > 0 {
		r.SupportEmail = v.SupportEmails[0]
	}
	m, hasToken := fields["turnstileToken"]
	switch {
	case source == SourceSignup && v.BotCheck && !hasToken:
		return out, invalid("turnstileToken", "'turnstileToken' is required: complete the bot check")
	case hasToken && !(source == SourceSignup && v.BotCheck):
		return out, invalid("turnstileToken", "'turnstileToken' is not taken here")
	case hasToken && (m.kind != '"' || m.str == "" || len(m.str) > maxBotTokenLength):
		return out, invalid("turnstileToken", "'turnstileToken' must be a string of 1 to %d characters", maxBotTokenLength)
	case hasToken:
		out.botToken = m.str
	}
	if m, ok := fields["shortUrl"]; ok {
		if m.kind != 't' && m.kind != 'f' {
			return out, invalid("shortUrl", "'shortUrl' must be true or false")
		}
		b := m.kind == 't'
		r.ShortURL = &b
	}
	return out, nil
}

// member is one member of the body object, as far as validation needs it.
type member struct {
	kind    jsontext.Kind  // of the value: '"', 't', 'f', '[', '{', '0'
	str     string         // the string, when kind is '"'
	strings []string       // the items, when kind is '[' and every item is a string
	object  jsontext.Value // the object, when kind is '{'
}

// decodeObject reads exactly one JSON object and returns its members, with
// null members dropped. Duplicate or unknown names, invalid UTF-8 and
// trailing data are errors: a body that two parsers could read two ways is
// refused rather than guessed at.
func decodeObject(body []byte) (map[string]member, *fieldError) {
	if !utf8.Valid(body) {
		return nil, invalid("", "the body is not valid UTF-8")
	}
	fields, ferr := decodeMembers(body, "", knownFields, "a workflow session request")
	if ferr != nil && ferr.param == "" {
		return nil, invalid("", "the body must be one JSON object")
	}
	return fields, ferr
}

// decodeMembers reads one JSON object of the names in known; prefix is
// the object's path in the body ("" or "client."), for the param of an
// error. An error with no param means the input is not one object.
func decodeMembers(data []byte, prefix string, known []string, what string) (map[string]member, *fieldError) {
	// Duplicates are allowed by the decoder so that the error can name them.
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true))
	fields := make(map[string]member, len(known))
	seen := make([]string, 0, len(known))
	err := readMembers(dec, func(name string) error {
		m, err := readMember(dec)
		if err != nil {
			return errNotObject
		}
		if !slices.Contains(known, name) {
			return invalid(prefix+name, "'%s%s' is not a field of %s", prefix, name, what)
		}
		if slices.Contains(seen, name) {
			return invalid(prefix+name, "'%s%s' appears more than once", prefix, name)
		}
		seen = append(seen, name)
		if m.kind != 'n' {
			fields[name] = m
		}
		return nil
	})
	var ferr *fieldError
	switch {
	case errors.As(err, &ferr):
		return nil, ferr
	case err != nil:
		return nil, invalid("", "not one JSON object")
	}
	return fields, nil
}

// readMember reads one value: strings, booleans and arrays of strings are
// kept, anything else only noted by its kind.
func readMember(dec *jsontext.Decoder) (member, error) {
	m := member{kind: dec.PeekKind()}
	switch m.kind {
	case '"':
		tok, err := dec.ReadToken()
		m.str = tok.String()
		return m, err
	case 't', 'f', 'n':
		_, err := dec.ReadToken()
		return m, err
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return m, err
		}
		allStrings := true
		for dec.PeekKind() != ']' {
			if dec.PeekKind() == '"' {
				tok, err := dec.ReadToken()
				if err != nil {
					return m, err
				}
				m.strings = append(m.strings, tok.String())
				continue
			}
			allStrings = false
			if _, err := dec.ReadValue(); err != nil {
				return m, err
			}
		}
		if !allStrings {
			m.strings = nil
			m.kind = '0' // an array that is not all strings is no use to any field
		}
		_, err := dec.ReadToken()
		return m, err
	case '{':
		v, err := dec.ReadValue()
		m.object = v.Clone()
		return m, err
	default:
		_, err := dec.ReadValue()
		return m, err
	}
}

// invalidInvitation is the one answer to any invitation that is refused,
// whatever check failed, so that a caller learns nothing from it.
var invalidInvitation = invalid("invitation", "'invitation' is not a valid invitation")

// sourceField is the body field a client source names the person by.
func sourceField(s ClientSource) string {
	for name, src := range personFields {
		if src == s {
			return name
		}
	}
	return ""
}

// parseClient checks the body's client: a person or a company in
// ComplyCube's own shape, and nothing else.
func parseClient(m member) (*NewClient, *fieldError) {
	if m.kind != '{' {
		return nil, invalid("client", "'client' must be an object with type, email and personDetails or companyDetails")
	}
	fields, ferr := decodeMembers(m.object, "client.", []string{"type", "email", "personDetails", "companyDetails"}, "a client")
	if ferr != nil {
		return nil, ferr
	}
	c := &NewClient{}
	switch t := fields["type"]; {
	case t.kind == 0:
		return nil, invalid("client.type", "'client.type' is required")
	case t.kind != '"' || (t.str != "person" && t.str != "company"):
		return nil, invalid("client.type", "'client.type' must be \"person\" or \"company\"")
	default:
		c.Type = t.str
	}
	switch e := fields["email"]; {
	case e.kind == 0:
		return nil, invalid("client.email", "'client.email' is required")
	case e.kind != '"' || !validEmail(e.str):
		return nil, invalid("client.email", "'client.email' must be one e-mail address of at most %d characters", maxEmailLength)
	default:
		c.Email = e.str
	}
	details, other, names := "personDetails", "companyDetails", []string{"firstName", "lastName"}
	if c.Type == "company" {
		details, other, names = "companyDetails", "personDetails", []string{"name"}
	}
	if _, ok := fields[other]; ok {
		return nil, invalid("client."+other, "'client.%s' is not a field of a %s", other, c.Type)
	}
	d, ok := fields[details]
	if !ok {
		return nil, invalid("client."+details, "'client.%s' is required", details)
	}
	if d.kind != '{' {
		return nil, invalid("client."+details, "'client.%s' must be an object", details)
	}
	prefix := "client." + details + "."
	inner, ferr := decodeMembers(d.object, prefix, names, "client."+details)
	if ferr != nil {
		return nil, ferr
	}
	got := make([]string, len(names))
	for i, name := range names {
		f, ok := inner[name]
		if !ok {
			return nil, invalid(prefix+name, "'%s%s' is required", prefix, name)
		}
		if f.kind != '"' || !validName(f.str) {
			return nil, invalid(prefix+name, "'%s%s' must be 1 to %d characters with a letter or digit, and no control, format, private-use or line-separator characters", prefix, name, maxNameLength)
		}
		got[i] = f.str
	}
	if c.Type == "person" {
		c.PersonDetails = &PersonDetails{FirstName: got[0], LastName: got[1]}
	} else {
		c.CompanyDetails = &CompanyDetails{Name: got[0]}
	}
	return c, nil
}

// validName: 1 to 100 characters, at least one letter or digit, and no
// character of Unicode's categories Cc (control), Cf (format: zero-width
// and bidirectional marks), Co (private use), Cs (surrogates), Zl or Zp
// (line and paragraph separators). A name is shown on ComplyCube's pages
// and the operator's records: it must look like what it is.
func validName(s string) bool {
	if utf8.RuneCountInString(s) > maxNameLength || !utf8.ValidString(s) {
		return false
	}
	visible := false
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return false
		}
		visible = visible || unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	return visible
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func idField(fields map[string]member, name string, required bool) (string, *fieldError) {
	m, ok := fields[name]
	if !ok {
		if required {
			return "", invalid(name, "'%s' is required", name)
		}
		return "", nil
	}
	if m.kind != '"' || !api.ValidID(m.str) {
		return "", invalid(name, "'%s' must be 1 to 128 letters, digits, '_' or '-'", name)
	}
	return m.str, nil
}

func (v Validator) urlField(fields map[string]member, name string) (string, *fieldError) {
	m, ok := fields[name]
	if !ok {
		return "", invalid(name, "'%s' is required", name)
	}
	s := m.str
	switch {
	case m.kind == '"':
	case m.kind == '[' && len(m.strings) == 1:
		// ComplyCube's reference types these fields as arrays.
		s = m.strings[0]
	default:
		return "", invalid(name, "'%s' must be a URL string", name)
	}
	if reason := v.checkRedirectURL(s); reason != "" {
		return "", invalid(name, "'%s' %s", name, reason)
	}
	return s, nil
}

// checkRedirectURL returns why s may not be a successUrl or cancelUrl, or "".
// The rules are strict on purpose: a redirect URL that a browser could read
// differently from Go's parser is a phishing tool.
func (v Validator) checkRedirectURL(s string) string {
	const absolute = "must be an absolute https URL"
	if s == "" || len(s) > maxURLLength {
		return fmt.Sprintf("must be a URL of 1 to %d characters", maxURLLength)
	}
	if !cors.IsPrintableASCII(s) || strings.ContainsRune(s, '\\') {
		return "must not contain spaces, control characters, backslashes or non-ASCII characters (percent-encode them)"
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || !strings.HasPrefix(strings.ToLower(s), u.Scheme+"://") {
		return absolute
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return "must not contain user information"
	}
	// Re-split the authority ourselves rather than trusting u.Host, which
	// has had percent-escapes decoded.
	authority := s[len(u.Scheme)+3:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	if strings.Contains(authority, "%") {
		return "must not percent-encode its host"
	}
	host, port, err := cors.SplitHostPort(authority)
	if err != nil {
		return absolute
	}
	switch u.Scheme {
	case "https":
	case "http":
		if host != "localhost" && host != "127.0.0.1" && host != "::1" {
			return absolute + " (http is allowed for localhost only)"
		}
	default:
		return absolute
	}
	// u.Scheme is lower-case already, and "https" or "http" here.
	if !v.RedirectOrigins.Allows(cors.MakeOrigin(u.Scheme, host, port)) {
		return "must point to an origin this endpoint allows"
	}
	return ""
}

// ValidEmail reports whether s is one bare e-mail address of at most 254
// characters, as the endpoint takes them (SUPPORT_EMAILS too).
func ValidEmail(s string) bool { return validEmail(s) }

func validEmail(s string) bool {
	if s == "" || len(s) > maxEmailLength || !cors.IsPrintableASCII(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && !strings.HasPrefix(local, "\"") && cors.ValidHostname(strings.ToLower(domain)) && strings.Contains(domain, ".")
}
