package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
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

// requireTools skips the test when AWS's template tools are missing,
// except under CI, where that is a failure.
func requireTools(t *testing.T) {
	t.Helper()
	if err := Tools(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI must have them: python3 -m pip show cfn-lint aws-sam-translator)", err)
		}
		t.Skipf("%v; the template checks need them (python3 -m pip install cfn-lint aws-sam-translator)", err)
	}
}

// deployed runs AWS's SAM transform on template.yaml for values and
// resolves the result.
func deployed(t *testing.T, values map[string]string) *Stack {
	t.Helper()
	path := filepath.Join(repo(t), "template.yaml")
	results, err := Transform(values, path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Deploy(results[path], values)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTemplateLint: cfn-lint, the linter `sam validate --lint` runs,
// reports no error and no warning on template.yaml.
func TestTemplateLint(t *testing.T) {
	requireTools(t)
	path := filepath.Join(repo(t), "template.yaml")
	findings, err := Lint(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings[path] {
		if f.Level == "Informational" {
			t.Logf("cfn-lint: %s", f)
			continue
		}
		t.Errorf("cfn-lint: %s", f)
	}
}

// TestTemplate turns template.yaml into the CloudFormation AWS would
// deploy, with AWS's own SAM transform, and checks its facts, with
// samconfig.toml's values and with a KMS key.
func TestTemplate(t *testing.T) {
	requireTools(t)
	withKMS := deployValues(t)
	withKMS["SecretKmsKeyArn"] = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	withEmail := deployValues(t)
	withEmail["AlarmEmail"] = "ops@example.com"
	// Invitations without a bot check or a site key (the output is then
	// not created), and every optional guard left at its default.
	invitation := deployValues(t)
	invitation["ClientSource"] = "invitation"
	invitation["BotCheck"] = "off"
	delete(invitation, "TurnstileSiteKey")
	// A live key: the sign-up limit at half of its rate.
	live := deployValues(t)
	live["SessionsRateLimit"] = "5"
	live["SessionsBurstLimit"] = "5"
	live["SupportEmails"] = "support@example.com,help@example.com"
	for name, values := range map[string]map[string]string{"samconfig values": deployValues(t), "with a KMS key": withKMS, "with an alarm e-mail": withEmail, "invitations without a bot check": invitation, "a live key": live} {
		t.Run(name, func(t *testing.T) {
			for _, err := range Facts(deployed(t, values), repo(t)) {
				t.Error(err)
			}
		})
	}
}

// TestTemplateMistakes: each mistake makes the checks fail, and for the
// reason it is there for: the named text must appear in what cfn-lint,
// the SAM transform or the project's own checks say about it.
func TestTemplateMistakes(t *testing.T) {
	requireTools(t)
	data := string(read(t, "template.yaml"))
	values := deployValues(t)
	mistakes := []struct{ name, old, new, reason string }{
		{"a misspelled property", "      Handler: bootstrap", "      Handlr: bootstrap", "Handlr"},
		{"a * resource", "        - AWSSecretsManagerGetSecretValuePolicy:", "        - Statement:\n            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n              Resource: '*'\n        - AWSSecretsManagerGetSecretValuePolicy:", "a * resource"},
		{"a broad managed policy", "        - AWSSecretsManagerGetSecretValuePolicy:", "        - SecretsManagerReadWrite\n        - AWSSecretsManagerGetSecretValuePolicy:", "managed policy arn:aws:iam::aws:policy/SecretsManagerReadWrite"},
		{"a missing route", "            Method: OPTIONS", "            Method: GET", "no HTTP API route OPTIONS /sessions"},
		{"the wrong runtime", "    Runtime: provided.al2023", "    Runtime: go1.x", "Runtime is go1.x"},
		{"a timeout over API Gateway's", "    Timeout: 15", "    Timeout: 30", "not under API Gateway's"},
		{"a timeout too short for a retry", "    Timeout: 15", "    Timeout: 6", "leaves no room"},
		{"a contract variable missing", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n", "", "ALLOWED_ORIGINS is not set"},
		{"x86_64", "    Architectures: [arm64]", "    Architectures: [x86_64]", "want [arm64]"},
		{"text logs", "      LogFormat: JSON", "      LogFormat: Text", "LogFormat is Text"},
		{"CORS on the API", "      DefaultRouteSettings:\n", "      CorsConfiguration:\n        AllowOrigins: ['*']\n      DefaultRouteSettings:\n", "answers CORS itself"},
		{"no throttling", "        ThrottlingRateLimit: !Ref SessionsRateLimit\n        ThrottlingBurstLimit: !Ref SessionsBurstLimit\n", "        DetailedMetricsEnabled: false\n", "no route throttling"},
		{"CodeUri at a folder with no Makefile", "      CodeUri: .\n", "      CodeUri: handler/\n", "has no Makefile"},
		{"the go1.x build method (no project flags)", "      BuildMethod: makefile", "      BuildMethod: go1.x", "want makefile"},
		{"a silent ClientSource default", "    AllowedValues: [signup, invitation, request]", "    Default: request\n    AllowedValues: [signup, invitation, request]", "ClientSource must be required"},
		{"the webhook role publishing anywhere", "        - SNSPublishMessagePolicy:\n            TopicName: !GetAtt AlertTopic.TopicName", "        - Statement:\n            - Effect: Allow\n              Action: sns:Publish\n              Resource: !Sub 'arn:aws:sns:${AWS::Region}:${AWS::AccountId}:*'", "a * resource"},
		{"the webhook role reading other secrets", "        - SNSPublishMessagePolicy:", "        - Statement:\n            - Effect: Allow\n              Action: secretsmanager:ListSecrets\n              Resource: !Ref ComplyCubeSecretArn\n        - SNSPublishMessagePolicy:", "allows secretsmanager:ListSecrets"},
		{"an alarm that tells no one", "      AlarmActions: [!Ref AlertTopic]\n      OKActions: [!Ref AlertTopic]\n\n  KeyUnreadableAlarm:", "      OKActions: [!Ref AlertTopic]\n\n  KeyUnreadableAlarm:", "does not tell the AlertTopic"},
		{"no alarm on the key", "      MetricName: KeyRejected", "      MetricName: Requests", "no alarm on ComplyCubeCreateSession KeyRejected"},
		{"an alarm on the wrong function's metrics", "      MetricName: KeyReadFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-create-session'", "      MetricName: KeyReadFailures\n      Dimensions:\n        - Name: Function\n          Value: createsession", "no alarm on ComplyCubeCreateSession KeyReadFailures"},
		{"an e-mail subscribed without AlarmEmail", "    Condition: HasAlarmEmail\n", "", "AlarmEmail is empty but the stack subscribes"},
		{"no webhook route", "            Path: /webhooks", "            Path: /hooks", "no HTTP API route POST /webhooks"},
		{"a webhook timeout past ComplyCube's 15 s", "      Timeout: 10", "      Timeout: 20", "under ComplyCube's 15 s"},
		{"Go's default root loading on AL2023", "        SSL_CERT_DIR: /nonexistent\n", "", "SSL_CERT_DIR is \"\""},
		{"the secret policy on another secret", "            SecretArn: !Ref ComplyCubeSecretArn", "            SecretArn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf", "want only arn:aws:secretsmanager:eu-west-1:123456789012:secret:complycube/api-key"},
		// The shared state (CONTRACT.md, "Memory across instances").
		{"SAM's DynamoDBCrudPolicy on a function", "        - Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:PutItem\n                - dynamodb:UpdateItem\n              Resource: !GetAtt StateTable.Arn\n", "        - DynamoDBCrudPolicy:\n            TableName: !Ref StateTable\n", "CreateSessionFunctionRole allows dynamodb:Scan"},
		{"Scan granted to the webhook", "                - dynamodb:DeleteItem\n", "                - dynamodb:DeleteItem\n                - dynamodb:Scan\n", "WebhookFunctionRole allows DynamoDB actions [dynamodb:DeleteItem dynamodb:PutItem dynamodb:Scan]"},
		{"BatchWriteItem granted to the create-session function", "                - dynamodb:UpdateItem\n", "                - dynamodb:UpdateItem\n                - dynamodb:BatchWriteItem\n", "CreateSessionFunctionRole allows dynamodb:BatchWriteItem, which the function does not need"},
		{"a create-session action missing (its counters fail closed)", "                - dynamodb:UpdateItem\n", "", "CreateSessionFunctionRole does not allow dynamodb:UpdateItem"},
		{"the table's actions on every table", "                - dynamodb:UpdateItem\n              Resource: !GetAtt StateTable.Arn", "                - dynamodb:UpdateItem\n              Resource: !Sub 'arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*'", "want only StateTable.Arn (the stack's StateTable, no index, no other table)"},
		{"the status function writing", "              Action: dynamodb:GetItem\n", "              Action: [dynamodb:GetItem, dynamodb:PutItem]\n", "StatusFunctionRole allows dynamodb:PutItem, which the function does not need"},
		{"the status function given the secret", "              Action: dynamodb:GetItem\n              Resource: !GetAtt StateTable.Arn\n", "              Action: dynamodb:GetItem\n              Resource: !GetAtt StateTable.Arn\n        - AWSSecretsManagerGetSecretValuePolicy:\n            SecretArn: !Ref ComplyCubeSecretArn\n", "allows secretsmanager:GetSecretValue: the status function holds no secret"},
		{"the status function given the topic", "              Action: dynamodb:GetItem\n              Resource: !GetAtt StateTable.Arn\n", "              Action: dynamodb:GetItem\n              Resource: !GetAtt StateTable.Arn\n        - SNSPublishMessagePolicy:\n            TopicName: !GetAtt AlertTopic.TopicName\n", "allows sns:Publish: the status function tells no topic"},
		{"the status function given the secret's name", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n      Policies:\n        # Least privilege: read items", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n          COMPLYCUBE_SECRET_ID: !Ref ComplyCubeSecretArn\n      Policies:\n        # Least privilege: read items", "StatusFunction has COMPLYCUBE_SECRET_ID"},
		{"the status function with other origins", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n      Policies:\n        # Least privilege: read items", "          ALLOWED_ORIGINS: '*'\n      Policies:\n        # Least privilege: read items", "StatusFunction: ALLOWED_ORIGINS is \"*\""},
		{"a sort key", "        - AttributeName: pk\n          KeyType: HASH\n", "        - AttributeName: pk\n          KeyType: HASH\n        - AttributeName: sk\n          KeyType: RANGE\n", "want partition key pk and no sort key"},
		{"a numeric partition key", "          AttributeType: S\n", "          AttributeType: N\n", "want pk as a string (S)"},
		{"TTL on another attribute", "        AttributeName: ttl\n", "        AttributeName: expiresAt\n", "TimeToLiveSpecification AttributeName=expiresAt Enabled=true, want attribute ttl"},
		{"TTL disabled", "        AttributeName: ttl\n        Enabled: true\n", "        AttributeName: ttl\n        Enabled: false\n", "TimeToLiveSpecification AttributeName=ttl Enabled=false, want attribute ttl, enabled"},
		{"provisioned billing", "      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: PROVISIONED\n      ProvisionedThroughput:\n        ReadCapacityUnits: 1\n        WriteCapacityUnits: 1\n", "BillingMode PROVISIONED"},
		{"no encryption at rest", "        SSEEnabled: true\n", "        SSEEnabled: false\n", "want SSEEnabled true"},
		{"no STATE_TABLE at all", "        STATE_TABLE: !Ref StateTable\n", "", "StatusFunction has no STATE_TABLE"},
		{"a function whose STATE_TABLE is empty", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n      Policies:\n        # Least privilege: read items", "          ALLOWED_ORIGINS: !Ref AllowedOrigins\n          STATE_TABLE: ''\n      Policies:\n        # Least privilege: read items", "StatusFunction: STATE_TABLE is \"\", want a Ref to the stack's StateTable"},
		{"a function on another table", "          ALERT_TOPIC_ARN: !Ref AlertTopic\n", "          ALERT_TOPIC_ARN: !Ref AlertTopic\n          STATE_TABLE: complycube-state\n", "WebhookFunction: STATE_TABLE is \"complycube-state\""},
		// The status function (CONTRACT.md, "The person comes back").
		{"no status route", "            Path: /sessions/status\n            Method: POST\n", "            Path: /status\n            Method: POST\n", "no HTTP API route POST /sessions/status to StatusFunction"},
		{"no status preflight route", "            Path: /sessions/status\n            Method: OPTIONS\n", "            Path: /sessions/status\n            Method: GET\n", "no HTTP API route OPTIONS /sessions/status to StatusFunction"},
		{"the status route on an API of its own", "            ApiId: !Ref SessionsApi\n            Path: /sessions/status\n            Method: POST\n", "            Path: /sessions/status\n            Method: POST\n", "must be on the same API as /sessions"},
		{"a status function only some deployments get", "  StatusFunction:\n    Type: AWS::Serverless::Function\n", "  StatusFunction:\n    Type: AWS::Serverless::Function\n    Condition: HasAlarmEmail\n", "no AWS::Lambda::Function StatusFunction"},
		{"the status function logging into the webhook's group", "        LogGroup: !Ref StatusLogGroup\n", "        LogGroup: !Ref WebhookLogGroup\n", "StatusFunction shares log group WebhookLogGroup"},
		// Sign-ups on the open internet (CONTRACT.md, "On the open internet").
		{"a BotCheck default (sam deploy would not ask)", "    AllowedValues: [turnstile, 'off']", "    Default: 'off'\n    AllowedValues: [turnstile, 'off']", "BotCheck must be required"},
		{"a third bot check", "    AllowedValues: [turnstile, 'off']", "    AllowedValues: [turnstile, 'off', recaptcha]", "BotCheck must be required with AllowedValues exactly turnstile and off"},
		{"BotCheck's off unexplained", "secret. off - no bot", "secret. Off means no bot", "BotCheck's Description does not say what off does"},
		{"BOT_CHECK not passed to the function", "          BOT_CHECK: !Ref BotCheck\n", "", "BOT_CHECK is not set"},
		{"SIGNUPS_PER_IP from the wrong parameter", "          SIGNUPS_PER_IP: !Ref SignupsPerIp\n", "          SIGNUPS_PER_IP: !Ref SignupsPerEmail\n", "SIGNUPS_PER_IP is \"3\", want parameter SignupsPerIp"},
		{"SUPPORT_EMAILS not passed to the function", "          SUPPORT_EMAILS: !Ref SupportEmails\n", "", "SUPPORT_EMAILS is not set"},
		{"a SignupsPerIp of 0 allowed", "  SignupsPerIp:\n    Type: Number\n    Default: '5'\n    MinValue: '1'", "  SignupsPerIp:\n    Type: Number\n    Default: '5'\n    MinValue: '0'", "SignupsPerIp: MinValue \"0\""},
		{"a SignupsPerDay off the contract's default", "    Default: '200'", "    Default: '2000'", "SignupsPerDay: default 2000, want the contract's 200"},
		{"SignupsPerEmail as free text", "  SignupsPerEmail:\n    Type: Number", "  SignupsPerEmail:\n    Type: String", "SignupsPerEmail: Type String, want Number"},
		{"no site key output", "  TurnstileSiteKey:\n    Condition: HasTurnstileSiteKey\n", "  SiteKey:\n    Condition: HasTurnstileSiteKey\n", "output TurnstileSiteKey is <nil>, want the key"},
		// Throttling (CONTRACT.md, "Throttling").
		{"the sign-up rate at a live key's whole rate", "    Default: '2.5'\n    MinValue: '1'\n    MaxValue: '5'", "    Default: '10'\n    MinValue: '1'\n    MaxValue: '10'", "SessionsRateLimit default 10 is over half of a sandbox key's rate"},
		{"a big sign-up burst", "    Default: '2'\n    MinValue: '1'\n    MaxValue: '5'", "    Default: '5'\n    MinValue: '1'\n    MaxValue: '5'", "SessionsBurstLimit default 5, want a small burst"},
		{"a live burst above a live key's rate", "    Default: '2'\n    MinValue: '1'\n    MaxValue: '5'", "    Default: '2'\n    MinValue: '1'\n    MaxValue: '10'", "SessionsBurstLimit MaxValue \"10\", want at most 5"},
		{"a fixed sign-up rate", "        ThrottlingRateLimit: !Ref SessionsRateLimit\n", "        ThrottlingRateLimit: 10\n", "POST /sessions throttled at 10/s, burst 2, which does not come from SessionsRateLimit"},
		{"a looser default than sign-ups", "      RouteSettings:\n", "      RouteSettings:\n        POST /sessions:\n          ThrottlingRateLimit: 2\n          ThrottlingBurstLimit: 5\n", "DefaultRouteSettings 2.5/s is looser than POST /sessions (2/s)"},
		{"a Ref in RouteSettings", "      RouteSettings:\n", "      RouteSettings:\n        POST /sessions:\n          ThrottlingRateLimit: !Ref SessionsRateLimit\n          ThrottlingBurstLimit: !Ref SessionsBurstLimit\n", "RouteSettings \"POST /sessions\" ThrottlingBurstLimit is Ref=SessionsBurstLimit, not a literal number"},
		{"webhooks without a route limit of their own", "        POST /webhooks:\n          ThrottlingRateLimit: 50\n          ThrottlingBurstLimit: 100\n", "", "POST /webhooks has no route limit of its own"},
		{"webhooks throttled like sign-ups", "          ThrottlingRateLimit: 50\n          ThrottlingBurstLimit: 100\n", "          ThrottlingRateLimit: 5\n          ThrottlingBurstLimit: 10\n", "POST /webhooks throttled at 5/s"},
		{"a webhook route setting without its burst", "          ThrottlingRateLimit: 50\n          ThrottlingBurstLimit: 100\n", "          ThrottlingRateLimit: 50\n", "RouteSettings \"POST /webhooks\" must set both"},
		{"polling in the sign-ups' bucket", "        POST /sessions/status:\n          ThrottlingRateLimit: 20\n          ThrottlingBurstLimit: 40\n", "", "POST /sessions/status has no route limit of its own"},
		// Alarms (CONTRACT.md, "Telling the operator").
		{"the key's reads watched in one function only", "      MetricName: KeyReadFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-webhook'", "      MetricName: KeyReadFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-create-session'", "no alarm on ComplyCubeCreateSession KeyReadFailures for complycube-createsession-webhook"},
		{"no signature alarm", "      MetricName: WebhookSignatureFailures\n", "      MetricName: WebhookDuplicates\n", "no alarm on ComplyCubeCreateSession WebhookSignatureFailures"},
		{"a signature alarm at ComplyCube's ten", "      MetricName: WebhookSignatureFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-webhook'\n      Statistic: Sum\n      Period: 900\n      EvaluationPeriods: 1\n      Threshold: 3\n", "      MetricName: WebhookSignatureFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-webhook'\n      Statistic: Sum\n      Period: 900\n      EvaluationPeriods: 1\n      Threshold: 10\n", "WebhookSignatureAlarm fires at 10: ComplyCube disables the webhook after ten failed deliveries"},
		{"a signature alarm one event never fires", "      MetricName: WebhookSignatureFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-webhook'\n      Statistic: Sum\n      Period: 900\n", "      MetricName: WebhookSignatureFailures\n      Dimensions:\n        - Name: Function\n          Value: !Sub '${AWS::StackName}-webhook'\n      Statistic: Sum\n      Period: 120\n", "WebhookSignatureAlarm fires at 3 in 120 s: one event's first 3 attempts take 180 s"},
		{"no alarm on unreadable webhooks", "      MetricName: WebhookUnreadable\n", "      MetricName: WebhookDuplicates\n", "no alarm on ComplyCubeCreateSession WebhookUnreadable"},
		{"no alarm on publish failures", "      MetricName: WebhookPublishFailures\n", "      MetricName: WebhookDuplicates\n", "no alarm on ComplyCubeCreateSession WebhookPublishFailures"},
		{"the cap alarm on another reason", "          Value: day\n", "          Value: ip\n", "no alarm on ComplyCubeCreateSession SignupRefused for complycube-createsession-create-session"},
		{"the cap alarm without its function", "        - Name: Function\n          Value: !Sub '${AWS::StackName}-create-session'\n        - Name: Reason\n", "        - Name: Reason\n", "no alarm on ComplyCubeCreateSession SignupRefused"},
		{"a cap alarm that needs two refusals", "          Value: day\n      Statistic: Sum\n      Period: 86400\n      EvaluationPeriods: 1\n      Threshold: 1\n", "          Value: day\n      Statistic: Sum\n      Period: 86400\n      EvaluationPeriods: 1\n      Threshold: 2\n", "SignupCapReachedAlarm fires at 2, want 1 or fewer"},
		{"an alarm that breaches on a quiet site", "      # No deliveries, nothing unread.\n      TreatMissingData: notBreaching\n", "      TreatMissingData: breaching\n", "WebhookUnreadableAlarm: TreatMissingData \"breaching\", want notBreaching"},
		{"an alarm that leaves missing data to chance", "      # No deliveries, nothing unread.\n      TreatMissingData: notBreaching\n", "", "alarm WebhookUnreadableAlarm leaves TreatMissingData to CloudWatch's default"},
		{"no silence alarm", "              MetricName: Webhooks\n", "              MetricName: WebhookDuplicates\n", "no silence alarm"},
		{"a silence alarm that never sees a silent day", "IF(FILL(webhooks, 0) > 0, 0, FILL(sessions, 0))", "IF(webhooks > 0, 0, FILL(sessions, 0))", "does not FILL(webhooks, 0)"},
		{"a silence alarm over an hour", "                - Name: StatusCode\n                  Value: '200'\n            Period: 86400\n", "                - Name: StatusCode\n                  Value: '200'\n            Period: 3600\n", "want the last 24 hours"},
		{"a silence alarm that breaches on a quiet day", "      # No sessions in the window (a quiet day): nothing was expected.\n      TreatMissingData: notBreaching\n", "      TreatMissingData: breaching\n", "WebhookSilenceAlarm: TreatMissingData \"breaching\", want notBreaching"},
		{"the state alarm without the status function", "                  Value: !Sub '${AWS::StackName}-status'\n", "                  Value: !Sub '${AWS::StackName}-create-session'\n", "no alarm on ComplyCubeCreateSession StateErrors for complycube-createsession-status"},
		{"a state alarm that a quiet function blanks", "FILL(createsession, 0) + FILL(webhook, 0) + FILL(status, 0)", "createsession + webhook + status", "does not FILL(createsession, 0)"},
		{"a state alarm that waits for many failures", "          Expression: FILL(createsession, 0) + FILL(webhook, 0) + FILL(status, 0)\n      EvaluationPeriods: 1\n      Threshold: 3\n", "          Expression: FILL(createsession, 0) + FILL(webhook, 0) + FILL(status, 0)\n      EvaluationPeriods: 1\n      Threshold: 50\n", "fires at 50 in 300 s, want 5 or fewer"},
		{"no status endpoint output", "    Value: !Sub 'https://${SessionsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/sessions/status'", "    Value: !Sub 'https://${SessionsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/status'", "output StatusEndpoint is"},
	}
	dir := t.TempDir()
	var paths []string
	for i, m := range mistakes {
		if !strings.Contains(data, m.old) {
			t.Fatalf("%s: the template no longer contains %q: update this mutation", m.name, m.old)
		}
		p := filepath.Join(dir, fmt.Sprintf("mistake%02d.yaml", i))
		if err := os.WriteFile(p, []byte(strings.Replace(data, m.old, m.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	// One run of each tool over all the mutants: each starts in seconds.
	findings, err := Lint(paths...)
	if err != nil {
		t.Fatal(err)
	}
	results, err := Transform(values, paths...)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range mistakes {
		t.Run(m.name, func(t *testing.T) {
			var said []string
			for _, f := range findings[paths[i]] {
				if f.Level != "Informational" {
					said = append(said, "cfn-lint "+f.String())
				}
			}
			if s, err := Deploy(results[paths[i]], values); err != nil {
				said = append(said, err.Error())
			} else {
				for _, err := range Facts(s, repo(t)) {
					said = append(said, err.Error())
				}
			}
			if len(said) == 0 {
				t.Fatalf("the checks accepted a template with %s", m.name)
			}
			for _, s := range said {
				if strings.Contains(s, m.reason) {
					t.Logf("caught: %s", s)
					return
				}
			}
			t.Errorf("caught, but not for its reason (%q):\n  %s", m.reason, strings.Join(said, "\n  "))
		})
	}
	// A parameter value that breaks its AllowedPattern is refused.
	bad := deployValues(t)
	bad["ComplyCubeSecretArn"] = "complycube/api-key"
	if _, err := Deploy(Result{Source: results[paths[0]].Source, Transformed: map[string]any{}}, bad); err == nil || !strings.Contains(err.Error(), "AllowedPattern") {
		t.Errorf("a secret name instead of an ARN: %v", err)
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
	requireTools(t)
	stack := deployed(t, deployValues(t))
	for name := range deployValues(t) {
		if _, ok := stack.Parameters[name]; !ok {
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
	// The sample deploy lets anyone sign up: a bot check must guard it.
	if errs := SamConfigFacts(deployValues(t)); len(errs) > 0 {
		t.Errorf("samconfig.toml: %v", errs)
	}
	unguarded := deployValues(t)
	unguarded["ClientSource"], unguarded["BotCheck"] = "signup", "off"
	if errs := SamConfigFacts(unguarded); len(errs) == 0 {
		t.Error("SamConfigFacts accepted a sample deploy of open sign-ups without a bot check")
	}
	// One section per function that has sample events (events_test.go),
	// each named by its logical ID, as sam local looks them up.
	if keys := mapKeys(envFile); !slices.Equal(keys, []string{FunctionID, StatusID}) {
		t.Errorf("events/env.json top-level keys %v, want [%s %s]", keys, FunctionID, StatusID)
	}
	for id, vars := range envFile {
		fn, ok := stack.Resources[id]
		if !ok || fn.Type != "AWS::Lambda::Function" {
			t.Errorf("events/env.json has a section %s, which is not a function of the template", id)
			continue
		}
		envProp, _ := fn.Properties["Environment"].(map[string]any)
		declared, _ := envProp["Variables"].(map[string]any)
		for name := range vars {
			// sam local sets only variables the template declares.
			if _, ok := declared[name]; !ok {
				t.Errorf("events/env.json sets %s for %s, which the template does not declare for it (sam local would ignore it)", name, id)
			}
		}
		// sam local resolves !Ref StateTable to the name "StateTable",
		// which no developer's account has: the sample runs keep the state
		// in memory instead, and say so.
		if v, ok := vars[EnvStateTable]; !ok || v != "" {
			t.Errorf("events/env.json: %s's %s is %q (set: %v), want \"\" (no table: the state in the instance's memory)", id, EnvStateTable, v, ok)
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

// TestGuardVariablesAreTheFunctions: the names the template passes (the
// contract's) are the ones the create-session function reads.
func TestGuardVariablesAreTheFunctions(t *testing.T) {
	for contract, code := range map[string]string{
		EnvBotCheck:              sessionfn.EnvBotCheck,
		EnvSignupsPerIP:          sessionfn.EnvSignupsPerIP,
		EnvSignupsPerEmail:       sessionfn.EnvSignupsPerEmail,
		EnvSignupsPerDay:         sessionfn.EnvSignupsPerDay,
		EnvInvitationMaxSessions: sessionfn.EnvInvitationMaxSessions,
		EnvSupportEmails:         sessionfn.EnvSupportEmails,
	} {
		if contract != code {
			t.Errorf("the template passes %s, the function reads %s", contract, code)
		}
	}
}
