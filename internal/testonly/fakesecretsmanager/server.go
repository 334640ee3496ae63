// Package fakesecretsmanager is a local stand-in for AWS Secrets Manager's
// GetSecretValue, speaking the AWS JSON 1.1 protocol that the real
// aws-sdk-go-v2 client uses. Point the SDK at it with
// AWS_ENDPOINT_URL_SECRETS_MANAGER (or BaseEndpoint) and static credentials.
package fakesecretsmanager

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Failure is an AWS error answer.
type Failure struct {
	Status  int    // HTTP status, 400 for most AWS errors
	Type    string // e.g. "ResourceNotFoundException"
	Message string
}

// Common failures.
var (
	NotFound     = &Failure{400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
	AccessDenied = &Failure{400, "AccessDeniedException", "User is not authorized to perform: secretsmanager:GetSecretValue"}
	Throttled    = &Failure{400, "ThrottlingException", "Rate exceeded"}
	InternalFail = &Failure{500, "InternalServiceError", "An error occurred on the server side."}
)

// Server is the fake. The zero value is not usable; call New or Start.
type Server struct {
	mu       sync.Mutex
	secrets  map[string]string // SecretId -> SecretString
	failure  *Failure
	delay    time.Duration
	requests []string // SecretIds asked for, in order
	http     *httptest.Server
}

// New returns a fake holding no secrets; serve it with ServeHTTP or Start.
func New() *Server { return &Server{secrets: map[string]string{}} }

// Start serves the fake on a loopback port.
func Start() *Server {
	s := New()
	s.http = httptest.NewServer(s)
	return s
}

// URL is the endpoint to point the SDK at (after Start).
func (s *Server) URL() string { return s.http.URL }

// Close stops the server started by Start.
func (s *Server) Close() {
	if s.http != nil {
		s.http.CloseClientConnections()
		s.http.Close()
	}
}

// SetSecret sets a secret's SecretString.
func (s *Server) SetSecret(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = value
}

// Fail makes every call answer f; nil restores normal answers.
func (s *Server) Fail(f *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = f
}

// Delay makes every call wait d before answering (or until the client goes).
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns the SecretIds asked for so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// ServeHTTP answers one AWS JSON 1.1 call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || target != "secretsmanager.GetSecretValue" {
		writeFailure(w, &Failure{400, "UnknownOperationException", fmt.Sprintf("unsupported operation %q", target)})
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeFailure(w, &Failure{400, "MissingAuthenticationTokenException", "Request is missing Authentication Token"})
		return
	}
	var in struct{ SecretId string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeFailure(w, &Failure{400, "SerializationException", "bad JSON"})
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, in.SecretId)
	failure, delay := s.failure, s.delay
	value, ok := s.secrets[in.SecretId]
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if failure != nil {
		writeFailure(w, failure)
		return
	}
	if !ok {
		writeFailure(w, NotFound)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ARN":           "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId + "-AbCdEf",
		"Name":          in.SecretId,
		"SecretString":  value,
		"VersionId":     "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   1.7e9,
	})
}

func writeFailure(w http.ResponseWriter, f *Failure) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", f.Type)
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": f.Type, "message": f.Message})
}
