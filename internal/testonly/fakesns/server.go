// Package fakesns is a local stand-in for Amazon SNS's Publish, speaking
// the AWS query protocol that the real aws-sdk-go-v2 SNS client uses. Point
// the SDK at it with AWS_ENDPOINT_URL_SNS and static credentials.
package fakesns

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Message is one published message.
type Message struct {
	TopicARN string
	Subject  string
	Message  string
}

// Server is the fake.
type Server struct {
	mu        sync.Mutex
	published []Message
	fail      bool
	hang      time.Duration
	requests  int
	http      *httptest.Server
}

// Start serves the fake on a loopback port.
func Start() *Server {
	s := &Server{}
	s.http = httptest.NewServer(s)
	return s
}

// URL is the endpoint to point the SDK at.
func (s *Server) URL() string { return s.http.URL }

// Close stops the server.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

// Fail makes every Publish answer a 500 InternalError (true) or succeed.
func (s *Server) Fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = on
}

// Hang makes every Publish wait d (or until the client leaves) first.
func (s *Server) Hang(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = d
}

// Published returns the messages published so far.
func (s *Server) Published() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.published...)
}

// Requests counts the Publish calls received, failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ServeHTTP answers Action=Publish.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		queryError(w, http.StatusBadRequest, "InvalidParameter", "not a query-protocol POST")
		return
	}
	if r.PostForm.Get("Action") != "Publish" {
		queryError(w, http.StatusBadRequest, "InvalidAction", "only Publish is faked")
		return
	}
	s.mu.Lock()
	s.requests++
	fail, hang := s.fail, s.hang
	s.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
			return
		}
	}
	if fail {
		queryError(w, http.StatusInternalServerError, "InternalError", "An internal service error has occurred.")
		return
	}
	m := Message{TopicARN: r.PostForm.Get("TopicArn"), Subject: r.PostForm.Get("Subject"), Message: r.PostForm.Get("Message")}
	if m.TopicARN == "" || m.Message == "" {
		queryError(w, http.StatusBadRequest, "InvalidParameter", "TopicArn and Message are required")
		return
	}
	s.mu.Lock()
	s.published = append(s.published, m)
	n := len(s.published)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>00000000-0000-0000-0000-%012d</MessageId></PublishResult><ResponseMetadata><RequestId>fake-%d</RequestId></ResponseMetadata></PublishResponse>`, n, n)
}

func queryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-error</RequestId></ErrorResponse>`, typ, code, message)
}
