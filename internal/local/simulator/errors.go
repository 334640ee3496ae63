package simulator

import (
	"encoding/json"
	"net/http"
)

// ComplyCube's documented error texts (shared COMPLYCUBE.md).
const (
	msgUnauthorized = "The 'Authorization' header is invalid"
	msgRateLimit    = "You have exceeded the rate limit prescribed to your plan"
	msgInternal     = "An error has occurred, try your request again. If you still keep getting this error, please get in touch with Support."
)

// apiError writes ComplyCube's error shape, fields in its order:
// {"type": ..., "message": ..., "param": ...}, param only when a field is
// at fault.
func apiError(w http.ResponseWriter, status int, typ, message, param string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Param   string `json:"param,omitempty"`
	}{typ, message, param})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
