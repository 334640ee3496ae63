package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Client is one client created through POST /v1/clients.
type Client struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Email string `json:"email"`
	// PersonDetails or CompanyDetails, as sent.
	PersonDetails  map[string]string `json:"personDetails,omitempty"`
	CompanyDetails map[string]string `json:"companyDetails,omitempty"`
	CreatedAt      string            `json:"createdAt"`
	UpdatedAt      string            `json:"updatedAt"`
}

// SetRejectEmails makes client creations whose e-mail ends in suffix fail
// as ComplyCube fails an address it will not take: 400 invalid_request,
// param email. Tests use it to see ComplyCube's own 400 passed through.
func (s *Simulator) SetRejectEmails(suffix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectEmails = suffix
}

// AddClient registers c as a client the simulator knows, with a new ID
// (the dev server's invited person), and returns it.
func (s *Simulator) AddClient(c Client) Client {
	c.ID = newClientID()
	c.CreatedAt = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	c.UpdatedAt = c.CreatedAt
	s.storeClient(&c)
	return c
}

func (s *Simulator) storeClient(c *Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
	s.clientOrder = append(s.clientOrder, c.ID)
	if len(s.clientOrder) > maxSessions {
		delete(s.clients, s.clientOrder[0])
		s.clientOrder = s.clientOrder[1:]
	}
}

// Client returns a created client by ID.
func (s *Simulator) Client(id string) (*Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// clientFields are the client fields the simulator takes: the ones the
// function sends and the few other documented ones.
var clientFields = map[string]bool{"type": true, "email": true, "mobile": true, "telephone": true, "externalId": true, "joinedDate": true, "personDetails": true, "companyDetails": true}

// createClient answers POST /v1/clients as ComplyCube does: the client
// object, with a new 24-hex ID.
func (s *Simulator) createClient(w http.ResponseWriter, fields map[string]json.RawMessage) {
	for name := range fields {
		if !clientFields[name] {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is not allowed", name)
			return
		}
	}
	str := func(m map[string]json.RawMessage, param, name string) (string, bool) {
		raw, ok := m[name]
		if !ok || string(raw) == "null" {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+param+"' is required", param)
			return "", false
		}
		var v string
		if json.Unmarshal(raw, &v) != nil || strings.TrimSpace(v) == "" || len(v) > 254 {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+param+"' is invalid", param)
			return "", false
		}
		return v, true
	}
	c := &Client{}
	var ok bool
	if c.Type, ok = str(fields, "type", "type"); !ok {
		return
	}
	if c.Type != "person" && c.Type != "company" {
		apiError(w, http.StatusBadRequest, "invalid_request", "'type' is invalid", "type")
		return
	}
	if c.Email, ok = str(fields, "email", "email"); !ok {
		return
	}
	s.mu.Lock()
	reject := s.rejectEmails != "" && strings.HasSuffix(c.Email, s.rejectEmails)
	s.mu.Unlock()
	if reject || strings.Count(c.Email, "@") != 1 || strings.HasPrefix(c.Email, "@") || strings.HasSuffix(c.Email, "@") {
		apiError(w, http.StatusBadRequest, "invalid_request", "'email' is invalid", "email")
		return
	}
	details, need := "personDetails", []string{"firstName", "lastName"}
	if c.Type == "company" {
		details, need = "companyDetails", []string{"name"}
	}
	var inner map[string]json.RawMessage
	if raw, present := fields[details]; !present || json.Unmarshal(raw, &inner) != nil || inner == nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "'"+details+"' is required", details)
		return
	}
	got := map[string]string{}
	for _, name := range need {
		v, ok := str(inner, details+"."+name, name)
		if !ok {
			return
		}
		got[name] = v
	}
	if c.Type == "person" {
		c.PersonDetails = got
	} else {
		c.CompanyDetails = got
	}
	added := s.AddClient(*c)
	body, _ := json.Marshal(added)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// newClientID returns an ID of ComplyCube's form: 24 lowercase hex.
func newClientID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
