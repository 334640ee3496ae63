package awsenv

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/complycube-session/createsession/internal/lambda/startup"
)

// lambdaEnv is what Lambda gives every function.
var lambdaEnv = map[string]string{
	"AWS_REGION":            "eu-west-1",
	"AWS_DEFAULT_REGION":    "eu-west-1",
	"AWS_ACCESS_KEY_ID":     "ASIALAMBDAROLE",
	"AWS_SECRET_ACCESS_KEY": "role-secret",
	"AWS_SESSION_TOKEN":     "role-session-token",
}

func with(extra map[string]string, drop ...string) map[string]string {
	m := map[string]string{}
	for k, v := range lambdaEnv {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

// settings is what a service client ends up with, the parts this package
// sets: compared with what the SDK's default chain gives for the same
// environment.
type settings struct {
	Region, BaseEndpoint, AppID string
	FIPS                        aws.FIPSEndpointState
	DualStack                   aws.DualStackEndpointState
	MaxAttempts                 int
	RetryMode                   aws.RetryMode
	Key, Secret, Token          string
	CredSources                 []aws.CredentialSource
	Logger                      string
}

func dynamoSettings(t *testing.T, cfg aws.Config) settings {
	t.Helper()
	o := dynamodb.NewFromConfig(cfg).Options()
	creds, err := o.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return settings{
		Region: o.Region, BaseEndpoint: aws.ToString(o.BaseEndpoint), AppID: o.AppID,
		FIPS: o.EndpointOptions.UseFIPSEndpoint, DualStack: o.EndpointOptions.UseDualStackEndpoint,
		MaxAttempts: o.RetryMaxAttempts, RetryMode: o.RetryMode,
		Key: creds.AccessKeyID, Secret: creds.SecretAccessKey, Token: creds.SessionToken,
		CredSources: credentialSources(o.Credentials), Logger: fmt.Sprintf("%T", o.Logger),
	}
}

// credentialSources is what the SDK's user agent reports of where the
// credentials came from.
func credentialSources(p aws.CredentialsProvider) []aws.CredentialSource {
	if s, ok := p.(interface{ ProviderSources() []aws.CredentialSource }); ok {
		return s.ProviderSources()
	}
	return nil
}

// TestAsTheDefaultChain: for the environments a function meets, a service
// client built from Load's configuration has the region, credentials,
// endpoint, FIPS and dual-stack choice, retry settings and app ID that one
// built from aws-sdk-go-v2/config's LoadDefaultConfig has.
func TestAsTheDefaultChain(t *testing.T) {
	cases := map[string]map[string]string{
		"lambda":                          lambdaEnv,
		"default region only":             with(nil, "AWS_REGION"),
		"no session token":                with(nil, "AWS_SESSION_TOKEN"),
		"service endpoint":                with(map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}),
		"global endpoint":                 with(map[string]string{"AWS_ENDPOINT_URL": "https://localhost:4566"}),
		"both endpoints":                  with(map[string]string{"AWS_ENDPOINT_URL": "https://localhost:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}),
		"another service's endpoint":      with(map[string]string{"AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9000"}),
		"endpoints ignored":               with(map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}),
		"fips and dual-stack":             with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "TRUE"}),
		"fips off":                        with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "false"}),
		"retries":                         with(map[string]string{"AWS_MAX_ATTEMPTS": "5", "AWS_RETRY_MODE": "adaptive"}),
		"max attempts 0, the SDK's unset": with(map[string]string{"AWS_MAX_ATTEMPTS": "0"}),
		"app id":                          with(map[string]string{"AWS_SDK_UA_APP_ID": "complycube-session"}),
		"the older names of the keys":     with(map[string]string{"AWS_ACCESS_KEY": "AKIDOLD", "AWS_SECRET_KEY": "old-secret"}, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			// LoadDefaultConfig reads the process's environment: only
			// this case's variables, and no files.
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
					t.Setenv(k, "")
					os.Unsetenv(k)
				}
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			want, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(os.Getenv)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := dynamoSettings(t, got.Config), dynamoSettings(t, want); !reflect.DeepEqual(g, w) {
				t.Errorf("Load gives\n%+v\nthe default chain\n%+v", g, w)
			}
		})
	}
}

// TestServiceEndpointByName: the endpoint variable is named after the
// service's SDK ID in upper case with spaces as underscores.
func TestServiceEndpointByName(t *testing.T) {
	env := with(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://127.0.0.1:7000"})
	e, err := Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(secretsmanager.NewFromConfig(e.Config).Options().BaseEndpoint); got != "https://127.0.0.1:7000" {
		t.Errorf("Secrets Manager's endpoint %q", got)
	}
}

// TestRefused: what the SDK would refuse, or a function cannot run
// without, stops the start with the variable named.
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "bundle.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	cases := []struct {
		env      map[string]string
		variable string
	}{
		{with(nil, "AWS_REGION", "AWS_DEFAULT_REGION"), EnvRegion},
		{with(nil, "AWS_ACCESS_KEY_ID"), EnvAccessKeyID},
		{with(nil, "AWS_SECRET_ACCESS_KEY"), EnvSecretAccessKey},
		{with(map[string]string{"AWS_MAX_ATTEMPTS": "-1"}), EnvMaxAttempts},
		{with(map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"}), envIgnoreEndpoints},
		{with(map[string]string{"AWS_MAX_ATTEMPTS": "three"}), EnvMaxAttempts},
		{with(map[string]string{"AWS_RETRY_MODE": "eager"}), EnvRetryMode},
		{with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "yes"}), EnvUseFIPS},
		{with(map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "1"}), EnvUseDualStack},
		{with(map[string]string{"AWS_CA_BUNDLE": filepath.Join(dir, "missing.pem")}), EnvCABundle},
		{with(map[string]string{"AWS_CA_BUNDLE": notPEM}), EnvCABundle},
	}
	for _, c := range cases {
		_, err := Load(func(k string) string { return c.env[k] })
		var ce *startup.ConfigError
		if !errors.As(err, &ce) || ce.Variable != c.variable {
			t.Errorf("%v: %v, want a configuration error naming %s", c.env, err, c.variable)
		}
	}
}

// TestCABundle: with AWS_CA_BUNDLE, a service's HTTP client trusts the
// bundle's roots (and, as the SDK's, only those); without it, a server
// whose root is not the system's is refused.
func TestCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	for _, c := range []struct {
		bundle string
		ok     bool
	}{{bundle, true}, {"", false}} {
		env := with(map[string]string{"AWS_CA_BUNDLE": c.bundle, "AWS_ENDPOINT_URL_DYNAMODB": srv.URL})
		e, err := Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		clients := map[string]*http.Client{
			"HTTPClient":     e.HTTPClient("DYNAMODB", "dynamodb"),
			"WarmHTTPClient": e.WarmHTTPClient(t.Context(), startup.NewLogger(&strings.Builder{}), "DYNAMODB", "dynamodb"),
		}
		if c.ok {
			// Without a bundle it could not verify an IP address at all
			// (no name): only the bundle's case says something of it.
			clients["Config's"] = e.Config.HTTPClient.(*http.Client)
		}
		for name, hc := range clients {
			resp, err := hc.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			var unknown x509.UnknownAuthorityError
			switch {
			case c.ok && err != nil:
				t.Errorf("with the bundle, %s: %v", name, err)
			case !c.ok && !errors.As(err, &unknown):
				t.Errorf("without the bundle, %s: %v, want an unknown authority", name, err)
			}
		}
	}
}

// TestFromConfig: a configuration loaded another way keeps its own HTTP
// client.
func TestFromConfig(t *testing.T) {
	e := FromConfig(aws.Config{Region: "eu-west-1"})
	if e.HTTPClient("DYNAMODB", "dynamodb") != nil || e.WarmHTTPClient(t.Context(), nil, "DYNAMODB", "dynamodb") != nil {
		t.Error("FromConfig's Env gives an HTTP client of its own")
	}
}
