package samtemplate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func repo(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// deployValues are samconfig.toml's parameter_overrides.
func deployValues(t *testing.T) map[string]string {
	t.Helper()
	cfg, err := ReadSamConfig(filepath.Join(repo(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cfg.Default.Deploy.Parameters["parameter_overrides"].(string)
	values, err := ParseOverrides(s)
	if err != nil {
		t.Fatal(err)
	}
	return values
}

// TestTemplate validates template.yaml against goformation's SAM schema and
// checks its facts, with samconfig.toml's values and with a KMS key.
func TestTemplate(t *testing.T) {
	data := read(t, "template.yaml")
	withKMS := deployValues(t)
	withKMS["SecretKmsKeyArn"] = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for name, values := range map[string]map[string]string{"samconfig values": deployValues(t), "with a KMS key": withKMS} {
		t.Run(name, func(t *testing.T) {
			tpl, err := Load(data, values)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range Facts(tpl, values, repo(t)) {
				t.Error(err)
			}
		})
	}
	if err := EndpointOutput(data); err != nil {
		t.Error(err)
	}
}

// TestTemplateMistakes: each mistake makes the checks fail, so they can.
func TestTemplateMistakes(t *testing.T) {
	data := string(read(t, "template.yaml"))
	values := deployValues(t)
	mistakes := []struct{ name, old, new string }{
		{"a misspelled property", "      Handler: bootstrap", "      Handlr: bootstrap"},
		{"a * resource", "        - AWSSecretsManagerGetSecretValuePolicy:", "        - Statement:\n            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n              Resource: '*'\n        - AWSSecretsManagerGetSecretValuePolicy:"},
		{"a broad managed policy", "        - AWSSecretsManagerGetSecretValuePolicy:", "        - SecretsManagerReadWrite\n        - AWSSecretsManagerGetSecretValuePolicy:"},
		{"a missing route", "            Method: OPTIONS", "            Method: POST"},
		{"the wrong runtime", "    Runtime: provided.al2023", "    Runtime: go1.x"},
		{"a timeout over API Gateway's", "    Timeout: 15", "    Timeout: 30"},
		{"a timeout too short for a retry", "    Timeout: 15", "    Timeout: 6"},
		{"a contract variable missing", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n", ""},
		{"x86_64", "    Architectures: [arm64]", "    Architectures: [x86_64]"},
		{"text logs", "      LogFormat: JSON", "      LogFormat: Text"},
		{"CORS on the API", "      DefaultRouteSettings:", "      CorsConfiguration:\n        AllowOrigins: ['*']\n      DefaultRouteSettings:"},
		{"no throttling", "        ThrottlingRateLimit: !Ref ThrottlingRateLimit\n        ThrottlingBurstLimit: !Ref ThrottlingBurstLimit\n", "        DetailedMetricsEnabled: false\n"},
		{"a throttling default over the sandbox limit", "    Default: '4'", "    Default: '8'"},
		{"CodeUri at a folder with no main", "      CodeUri: cmd/createsession/", "      CodeUri: handler/"},
		{"the secret policy on another secret", "            SecretArn: !Ref ComplyCubeSecretArn", "            SecretArn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf"},
	}
	for _, m := range mistakes {
		t.Run(m.name, func(t *testing.T) {
			if !strings.Contains(data, m.old) {
				t.Fatalf("the template no longer contains %q: update this mutation", m.old)
			}
			mutated := strings.Replace(data, m.old, m.new, 1)
			tpl, err := Load([]byte(mutated), values)
			if err != nil {
				t.Logf("caught on load: %v", firstLine(err.Error()))
				return // the schema or a parameter check caught it
			}
			errs := Facts(tpl, values, repo(t))
			if len(errs) == 0 {
				t.Errorf("the checks accepted a template with %s", m.name)
			} else {
				t.Logf("caught: %v", errs[0])
			}
		})
	}
	// A parameter value that breaks its AllowedPattern is refused.
	bad := deployValues(t)
	bad["ComplyCubeSecretArn"] = "complycube/api-key"
	if _, err := Load([]byte(data), bad); err == nil {
		t.Error("a secret name instead of an ARN was accepted")
	}
}

// TestSamConfig checks samconfig.toml against the template.
func TestSamConfig(t *testing.T) {
	cfg, err := ReadSamConfig(filepath.Join(repo(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 0.1 {
		t.Errorf("version = %v, want 0.1", cfg.Version)
	}
	b := cfg.Default.Build.Parameters
	if b["cached"] != true || b["parallel"] != true {
		t.Errorf("build parameters %v, want cached and parallel", b)
	}
	d := cfg.Default.Deploy.Parameters
	if s, _ := d["stack_name"].(string); s == "" {
		t.Error("no stack_name")
	}
	if d["resolve_s3"] != true || d["confirm_changeset"] != true || d["capabilities"] != "CAPABILITY_IAM" {
		t.Errorf("deploy parameters %v", d)
	}
	tpl, err := Load(read(t, "template.yaml"), deployValues(t))
	if err != nil {
		t.Fatal(err)
	}
	for name := range deployValues(t) {
		if _, ok := tpl.Parameters[name]; !ok {
			t.Errorf("parameter_overrides names %s, which is not a template parameter", name)
		}
	}
	for _, section := range []map[string]any{cfg.Default.LocalInvoke.Parameters, cfg.Default.LocalStartAPI.Parameters} {
		if section["env_vars"] != "events/env.json" {
			t.Errorf("env_vars = %v, want events/env.json", section["env_vars"])
		}
	}
	var envFile map[string]map[string]string
	if err := json.Unmarshal(read(t, "events/env.json"), &envFile); err != nil {
		t.Fatal(err)
	}
	if keys := mapKeys(envFile); !slices.Equal(keys, []string{FunctionID}) {
		t.Errorf("events/env.json top-level keys %v, want [%s]", keys, FunctionID)
	}
	fn, _ := tpl.Function()
	for name := range envFile[FunctionID] {
		// sam local sets only variables the template declares.
		if _, ok := fn.Environment.Variables[name]; !ok {
			t.Errorf("events/env.json sets %s, which the template does not declare (sam local would ignore it)", name)
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestParseOverrides(t *testing.T) {
	got, err := ParseOverrides(`A=1 B="two words" C="" D="say \"hi\"" E=x,y`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "", "D": `say "hi"`, "E": "x,y"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := ParseOverrides(`A=1 A=2`); err == nil {
		t.Error("duplicate accepted")
	}
	if _, err := ParseOverrides(`=1`); err == nil {
		t.Error("nameless value accepted")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " " + strings.TrimSpace(strings.SplitN(s[i+1:], "\n", 2)[0])
	}
	return s
}
