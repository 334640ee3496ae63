package handler

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxBodyBytes is the largest request body accepted, after base64 decoding.
const MaxBodyBytes = 16 << 10

// Limits on field lengths.
const (
	maxURLLength   = 2048
	maxEmailLength = 254
)

// SessionRequest is what ComplyCube receives: the validated fields only,
// strings never arrays, in ComplyCube's field names.
type SessionRequest struct {
	ClientID           string `json:"clientId"`
	WorkflowTemplateID string `json:"workflowTemplateId"`
	SuccessURL         string `json:"successUrl"`
	CancelURL          string `json:"cancelUrl"`
	Theme              string `json:"theme,omitempty"`
	SupportEmail       string `json:"supportEmail,omitempty"`
	ShortURL           *bool  `json:"shortUrl,omitempty"`
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

var knownFields = []string{"clientId", "workflowTemplateId", "successUrl", "cancelUrl", "theme", "supportEmail", "shortUrl"}

// Validator checks a request body against the contract and the
// configuration's allowlists.
type Validator struct {
	TemplateIDs     []string
	RedirectOrigins OriginList
}

// Validate decodes body, which must be exactly one JSON object with only
// ComplyCube's workflow-session fields, and checks every field.
func (v Validator) Validate(body []byte) (SessionRequest, *fieldError) {
	fields, ferr := decodeObject(body)
	if ferr != nil {
		return SessionRequest{}, ferr
	}
	var r SessionRequest
	var err *fieldError
	if r.ClientID, err = idField(fields, "clientId", true); err != nil {
		return r, err
	}
	if r.WorkflowTemplateID, err = idField(fields, "workflowTemplateId", len(v.TemplateIDs) == 0); err != nil {
		return r, err
	}
	if len(v.TemplateIDs) > 0 {
		if r.WorkflowTemplateID == "" {
			r.WorkflowTemplateID = v.TemplateIDs[0]
		} else if !slices.Contains(v.TemplateIDs, r.WorkflowTemplateID) {
			return r, invalid("workflowTemplateId", "'workflowTemplateId' is not one this endpoint allows")
		}
	}
	if r.SuccessURL, err = v.urlField(fields, "successUrl"); err != nil {
		return r, err
	}
	if r.CancelURL, err = v.urlField(fields, "cancelUrl"); err != nil {
		return r, err
	}
	if m, ok := fields["theme"]; ok {
		if m.kind != '"' || (m.str != "light" && m.str != "dark") {
			return r, invalid("theme", "'theme' must be \"light\" or \"dark\"")
		}
		r.Theme = m.str
	}
	if m, ok := fields["supportEmail"]; ok {
		if m.kind != '"' || !validEmail(m.str) {
			return r, invalid("supportEmail", "'supportEmail' must be one e-mail address of at most %d characters", maxEmailLength)
		}
		r.SupportEmail = m.str
	}
	if m, ok := fields["shortUrl"]; ok {
		if m.kind != 't' && m.kind != 'f' {
			return r, invalid("shortUrl", "'shortUrl' must be true or false")
		}
		b := m.kind == 't'
		r.ShortURL = &b
	}
	return r, nil
}

// member is one member of the body object, as far as validation needs it.
type member struct {
	kind    jsontext.Kind // of the value: '"', 't', 'f', '[', '{', '0'
	str     string        // the string, when kind is '"'
	strings []string      // the items, when kind is '[' and every item is a string
}

// decodeObject reads exactly one JSON object and returns its members, with
// null members dropped. Duplicate or unknown names, invalid UTF-8 and
// trailing data are errors: a body that two parsers could read two ways is
// refused rather than guessed at.
func decodeObject(body []byte) (map[string]member, *fieldError) {
	if !utf8.Valid(body) {
		return nil, invalid("", "the body is not valid UTF-8")
	}
	// Duplicates are allowed by the decoder so that the error can name them.
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	fields := make(map[string]member, len(knownFields))
	seen := make([]string, 0, len(knownFields))
	err := readMembers(dec, func(name string) error {
		m, err := readMember(dec)
		if err != nil {
			return errNotObject
		}
		if !slices.Contains(knownFields, name) {
			return invalid(name, "'%s' is not a field of a workflow session request", name)
		}
		if slices.Contains(seen, name) {
			return invalid(name, "'%s' appears more than once", name)
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
		return nil, invalid("", "the body must be one JSON object")
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
	default:
		_, err := dec.ReadValue()
		return m, err
	}
}

func idField(fields map[string]member, name string, required bool) (string, *fieldError) {
	m, ok := fields[name]
	if !ok {
		if required {
			return "", invalid(name, "'%s' is required", name)
		}
		return "", nil
	}
	if m.kind != '"' || !validID(m.str) {
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
	if !isPrintableASCII(s) || strings.ContainsRune(s, '\\') {
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
	host, port, err := splitHostPort(authority)
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
	if !v.RedirectOrigins.Allows(makeOrigin(u.Scheme, host, port)) {
		return "must point to an origin this endpoint allows"
	}
	return ""
}

func validEmail(s string) bool {
	if s == "" || len(s) > maxEmailLength || !isPrintableASCII(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && !strings.HasPrefix(local, "\"") && validHostname(strings.ToLower(domain)) && strings.Contains(domain, ".")
}
