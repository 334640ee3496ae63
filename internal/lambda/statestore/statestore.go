// Package statestore opens the shared state every function uses: the
// DynamoDB table named by STATE_TABLE, or, without it (local runs), the
// instance's own memory, with a warning where that weakens a promise.
package statestore

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/dynamostate"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/warmconn"
)

// EnvStateTable names the DynamoDB table (docs/configuration.md).
const EnvStateTable = "STATE_TABLE"

// Open returns the store for table. Without a table it keeps the state in
// this instance's memory and, when need is not empty (what the state is
// needed for), logs a warning: on Lambda each instance would then count and
// remember on its own.
func Open(ctx context.Context, table string, log *slog.Logger, need string) state.Store {
	if table == "" {
		if need != "" {
			log.Warn(EnvStateTable + " is not set: " + need + " keeps its state in this instance's memory, so on Lambda each instance counts and remembers on its own (set it on AWS; the template does)")
		}
		return memstate.New()
	}
	return openTable(ctx, table, log)
}

// openTable returns the DynamoDB table, with a connection to DynamoDB's
// endpoint opened now, in the background, so that the first request that
// needs the table does not pay for TCP and TLS at a fraction of a CPU.
func openTable(ctx context.Context, table string, log *slog.Logger) state.Store {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = 16
	if endpoint := dynamoEndpoint(os.Getenv); endpoint != nil {
		d := warmconn.New(endpoint, transport.TLSClientConfig)
		d.Install(transport)
		startup.Prewarm(ctx, log, "DynamoDB", d.Start)
	}
	return dynamostate.NewFromDefaultConfig(table, &http.Client{Transport: transport})
}

// dynamoEndpoint is the URL the SDK will call: AWS_ENDPOINT_URL_DYNAMODB
// (or AWS_ENDPOINT_URL) when set, else the region's public endpoint; nil
// when it cannot be known before the SDK's configuration is loaded.
func dynamoEndpoint(getenv func(string) string) *url.URL {
	for _, name := range []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil
			}
			return u
		}
	}
	region := strings.TrimSpace(getenv("AWS_REGION"))
	if region == "" {
		region = strings.TrimSpace(getenv("AWS_DEFAULT_REGION"))
	}
	if region == "" || strings.ContainsAny(region, "/:@ ") {
		return nil
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return &url.URL{Scheme: "https", Host: "dynamodb." + region + "." + suffix}
}
