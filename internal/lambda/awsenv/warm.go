package awsenv

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/warmconn"
)

// WarmHTTPClient is HTTPClient with a connection to the service's endpoint
// opened now, in the background (startup.Prewarm), so that the first
// request that needs the service does not pay for TCP and TLS at a
// fraction of a CPU. Without an endpoint it can know (no region and no
// override), nothing is dialled in advance. Nil for an Env made by
// FromConfig, as HTTPClient.
func (e *Env) WarmHTTPClient(ctx context.Context, log *slog.Logger, envName, host string) *http.Client {
	if e.getenv == nil {
		return nil
	}
	t := e.transport(envName, host)
	if endpoint := Endpoint(e.getenv, envName, host); endpoint != nil {
		d := warmconn.New(endpoint, t.TLSClientConfig)
		d.Install(t)
		startup.Prewarm(ctx, log, host, d.Start)
	}
	return &http.Client{Transport: t}
}
