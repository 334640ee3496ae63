package simulator_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFaultBodyIsDocumented: an injected 500 carries ComplyCube's own
// documented 500 body.
func TestFaultBodyIsDocumented(t *testing.T) {
	sim, srv := start(t)
	sim.SetFaults(1, 0)
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/flow/sessions", strings.NewReader(valid))
		req.Header.Set("Authorization", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // an injected reset
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		status, body := res.StatusCode, string(b)
		if status == 500 {
			if body != `{"type":"internal_server_error","message":"An error has occurred, try your request again. If you still keep getting this error, please get in touch with Support."}` {
				t.Errorf("500 body %s", body)
			}
			return
		}
	}
	t.Error("no 500 in 20 calls at fault rate 1")
}
