// Package awsenv is the AWS SDK configuration a function is given by
// Lambda in its environment: the region, the execution role's
// credentials, and the SDK's own variables that a function may meet
// (endpoint overrides, FIPS and dual-stack endpoints, retries, a CA
// bundle). It is read without aws-sdk-go-v2/config, whose default chain
// links clients for credential sources a function never has (STS, SSO,
// SSO-OIDC, Sign-In, the EC2 metadata service): their package
// initialisation alone is about 0.8 ms of CPU, some 11 ms of a cold start
// at the 128 MB share (BENCHMARKS.md). Every function builds one Env and
// hands its Config to each service client (Secrets Manager, DynamoDB,
// SNS), each with an HTTP client of its own from HTTPClient.
//
// On Lambda, and under `sam local`, the credentials are in the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) for the execution environment's lifetime, which is
// what the default chain would have found there too. cmd/invite, which an
// operator runs with a profile or SSO, keeps the default chain.
package awsenv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"

	"github.com/complycube-session/createsession/internal/lambda/outbound"
	"github.com/complycube-session/createsession/internal/lambda/startup"
)

// The variables Load reads, as the AWS SDKs name them.
const (
	EnvRegion          = "AWS_REGION"
	EnvDefaultRegion   = "AWS_DEFAULT_REGION"
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
	EnvCABundle        = "AWS_CA_BUNDLE"
	EnvUseFIPS         = "AWS_USE_FIPS_ENDPOINT"
	EnvUseDualStack    = "AWS_USE_DUALSTACK_ENDPOINT"
	EnvMaxAttempts     = "AWS_MAX_ATTEMPTS"
	EnvRetryMode       = "AWS_RETRY_MODE"
	EnvAppID           = "AWS_SDK_UA_APP_ID"
	envEndpointURL     = "AWS_ENDPOINT_URL"
	envIgnoreEndpoints = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	// Of the SDK's other variables, none that a function meets is read:
	// AWS_ACCOUNT_ID (DynamoDB then keeps its regional endpoint, which
	// Endpoint predicts), AWS_DEFAULTS_MODE, AWS_ENABLE_ENDPOINT_DISCOVERY,
	// AWS_DISABLE_CLOCK_SKEW_CORRECTION, profiles, SSO, container and
	// instance credentials (docs/configuration.md).
)

// Env is one function's AWS configuration.
type Env struct {
	// Config is what every service client is built from; its HTTPClient
	// verifies with the trust store (or AWS_CA_BUNDLE's roots) and is
	// meant to be replaced per service by HTTPClient's.
	Config aws.Config

	getenv  func(string) string
	rootCAs *x509.CertPool // AWS_CA_BUNDLE's roots; nil: the system's
}

// Load reads the configuration through getenv. A missing region or
// credentials, or a value the SDK would refuse, is a
// *startup.ConfigError naming the variable.
func Load(getenv func(string) string) (*Env, error) {
	e := &Env{getenv: getenv}
	cfg := aws.Config{Region: Region(getenv), ConfigSources: []any{sources{getenv}}}
	if cfg.Region == "" {
		return nil, &startup.ConfigError{Variable: EnvRegion, Err: errors.New("is not set (Lambda sets it; set it for a local run)")}
	}
	id, secret := firstSet(getenv, EnvAccessKeyID, "AWS_ACCESS_KEY"), firstSet(getenv, EnvSecretAccessKey, "AWS_SECRET_KEY")
	switch {
	case id == "":
		return nil, &startup.ConfigError{Variable: EnvAccessKeyID, Err: errors.New("is not set: the function takes its role's credentials from the environment, as Lambda and sam local give them")}
	case secret == "":
		return nil, &startup.ConfigError{Variable: EnvSecretAccessKey, Err: errors.New("is not set")}
	}
	// Reported as the default chain reports environment credentials (in
	// the SDK's user agent).
	cfg.Credentials = credentials.StaticCredentialsProvider{
		Value:  aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: strings.TrimSpace(getenv(EnvSessionToken)), Source: credentials.StaticCredentialsName},
		Source: []aws.CredentialSource{aws.CredentialSourceEnvVars},
	}
	// As the default chain: the SDK's own warnings go to stderr, which
	// Lambda writes to the function's log.
	cfg.Logger = logging.NewStandardLogger(os.Stderr)
	if !ignoreConfiguredEndpoints(getenv) {
		if v := strings.TrimSpace(getenv(envEndpointURL)); v != "" {
			cfg.BaseEndpoint = aws.String(v)
		}
	}
	if v := strings.TrimSpace(getenv(EnvMaxAttempts)); v != "" {
		// 0 is the SDK's "unset".
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, &startup.ConfigError{Variable: EnvMaxAttempts, Err: fmt.Errorf("%q is not a whole number", v)}
		}
		cfg.RetryMaxAttempts = n
	}
	if v := strings.TrimSpace(getenv(EnvRetryMode)); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			return nil, &startup.ConfigError{Variable: EnvRetryMode, Err: err}
		}
		cfg.RetryMode = mode
	}
	cfg.AppID = strings.TrimSpace(getenv(EnvAppID))
	for _, name := range []string{EnvUseFIPS, EnvUseDualStack, envIgnoreEndpoints} {
		if _, _, err := boolVar(getenv, name); err != nil {
			return nil, &startup.ConfigError{Variable: name, Err: err}
		}
	}
	if path := strings.TrimSpace(getenv(EnvCABundle)); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, &startup.ConfigError{Variable: EnvCABundle, Err: fmt.Errorf("read the bundle: %w", err)}
		}
		e.rootCAs = x509.NewCertPool()
		if !e.rootCAs.AppendCertsFromPEM(pem) {
			return nil, &startup.ConfigError{Variable: EnvCABundle, Err: fmt.Errorf("%s holds no PEM certificate", path)}
		}
	}
	cfg.HTTPClient = e.HTTPClient("", "")
	e.Config = cfg
	return e, nil
}

// FromConfig wraps a configuration loaded another way: the dev server's,
// from the SDK's default chain (profiles, SSO), as a developer's machine
// needs. Its service clients keep cfg's own HTTP client (HTTPClient and
// WarmHTTPClient return nil), and nothing is dialled in advance.
func FromConfig(cfg aws.Config) *Env { return &Env{Config: cfg} }

// Region is AWS_REGION, or AWS_DEFAULT_REGION when that is not set.
func Region(getenv func(string) string) string {
	return firstSet(getenv, EnvRegion, EnvDefaultRegion)
}

// HTTPClient returns an HTTP client for one service's requests: TLS 1.2
// at least, its certificate verified with the roots its chain names, parsed
// then (internal/lambda/truststore), or with AWS_CA_BUNDLE's roots when that
// is set, as the SDK would. envName and host name the service as Endpoint
// takes them; empty, the client verifies the host name it dials (an IP
// address, which is never sent in SNI, only with AWS_CA_BUNDLE: the
// trust store needs a name to verify). It is nil for an Env made by
// FromConfig: keep the configuration's own.
func (e *Env) HTTPClient(envName, host string) *http.Client {
	if e.getenv == nil {
		return nil
	}
	return &http.Client{Transport: e.transport(envName, host)}
}

func (e *Env) transport(envName, host string) *http.Transport {
	var endpoint *url.URL
	if envName != "" {
		endpoint = Endpoint(e.getenv, envName, host)
	}
	return outbound.Transport(tlsConfig(endpoint, e.rootCAs))
}

// firstSet is the first of the variables that is set, trimmed.
func firstSet(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

func ignoreConfiguredEndpoints(getenv func(string) string) bool {
	v, set, _ := boolVar(getenv, envIgnoreEndpoints)
	return set && v
}

// boolVar reads a variable the SDK reads as true or false (any case).
func boolVar(getenv func(string) string, name string) (value, set bool, err error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv(name))); v {
	case "":
		return false, false, nil
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	default:
		return false, false, fmt.Errorf("%q is not true or false", v)
	}
}

// sources answers the questions a service client asks its configuration's
// sources when it is built (the SDK's internal/configsources interfaces),
// as aws-sdk-go-v2/config's EnvConfig answers them from the same
// variables.
type sources struct{ getenv func(string) string }

// GetServiceBaseEndpoint: AWS_ENDPOINT_URL_<the service's SDK ID in upper
// case, spaces as underscores>, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s sources) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if ignoreConfiguredEndpoints(s.getenv) {
		return "", false, nil
	}
	name := envEndpointURL + "_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v := strings.TrimSpace(s.getenv(name)); v != "" {
		return v, true, nil
	}
	return "", false, nil
}

// GetUseFIPSEndpoint: AWS_USE_FIPS_ENDPOINT.
func (s sources) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	v, set, err := boolVar(s.getenv, EnvUseFIPS)
	if !set || err != nil {
		return aws.FIPSEndpointStateUnset, false, err
	}
	if v {
		return aws.FIPSEndpointStateEnabled, true, nil
	}
	return aws.FIPSEndpointStateDisabled, true, nil
}

// GetUseDualStackEndpoint: AWS_USE_DUALSTACK_ENDPOINT.
func (s sources) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	v, set, err := boolVar(s.getenv, EnvUseDualStack)
	if !set || err != nil {
		return aws.DualStackEndpointStateUnset, false, err
	}
	if v {
		return aws.DualStackEndpointStateEnabled, true, nil
	}
	return aws.DualStackEndpointStateDisabled, true, nil
}
