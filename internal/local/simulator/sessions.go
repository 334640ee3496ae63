package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Session is one created session, as the hosted page shows it.
type Session struct {
	Token              string
	ClientID           string
	WorkflowTemplateID string
	SuccessURL         string
	CancelURL          string
	Theme              string
	SupportEmail       string
}

// Session returns a created session by token.
func (s *Simulator) Session(token string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[token]
	return ss, ok
}

var (
	clientIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
	templatePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	knownFields     = map[string]bool{"clientId": true, "workflowTemplateId": true, "successUrl": true, "cancelUrl": true, "theme": true, "supportEmail": true, "shortUrl": true}
)

// createSession answers POST /v1/flow/sessions as ComplyCube does: the
// redirectUrl of the hosted page, or a 400 naming the field at fault.
func (s *Simulator) createSession(w http.ResponseWriter, fields map[string]json.RawMessage) {
	for name := range fields {
		if !knownFields[name] {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is not allowed", name)
			return
		}
	}
	var ss Session
	str := func(name string, required bool, ok func(string) bool) bool {
		raw, present := fields[name]
		if !present || string(raw) == "null" {
			if required {
				apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is required", name)
				return false
			}
			return true
		}
		var v string
		if json.Unmarshal(raw, &v) != nil || !ok(v) {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is invalid", name)
			return false
		}
		switch name {
		case "clientId":
			ss.ClientID = v
		case "workflowTemplateId":
			ss.WorkflowTemplateID = v
		case "successUrl":
			ss.SuccessURL = v
		case "cancelUrl":
			ss.CancelURL = v
		case "theme":
			ss.Theme = v
		case "supportEmail":
			ss.SupportEmail = v
		}
		return true
	}
	if !str("clientId", true, clientIDPattern.MatchString) {
		return
	}
	// A client this simulator created, or an ID of the right form (a client
	// made elsewhere, as in request mode).
	if !str("workflowTemplateId", true, templatePattern.MatchString) ||
		!str("successUrl", true, isWebURL) ||
		!str("cancelUrl", true, isWebURL) ||
		!str("theme", false, func(v string) bool { return v == "light" || v == "dark" }) ||
		!str("supportEmail", false, func(v string) bool { return strings.Count(v, "@") == 1 && len(v) <= 254 }) {
		return
	}
	shortURL := false
	if raw, ok := fields["shortUrl"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &shortURL) != nil {
			apiError(w, http.StatusBadRequest, "invalid_request", "'shortUrl' is invalid", "shortUrl")
			return
		}
	}
	if ss.Theme == "" {
		ss.Theme = "light"
	}
	ss.Token = newToken(shortURL)
	s.mu.Lock()
	s.sessions[ss.Token] = &ss
	s.order = append(s.order, ss.Token)
	if len(s.order) > maxSessions {
		delete(s.sessions, s.order[0])
		s.order = s.order[1:]
	}
	base := s.publicURL
	s.mu.Unlock()
	redirect := base + "/session/" + ss.Token + "?theme=" + ss.Theme
	body, _ := json.Marshal(map[string]string{"redirectUrl": redirect})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func isWebURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// newToken returns a session token: "test_" and 24 hex characters, or 10
// for a shortUrl.
func newToken(short bool) string {
	b := make([]byte, 12)
	if short {
		b = b[:5]
	}
	rand.Read(b)
	return "test_" + hex.EncodeToString(b)
}
