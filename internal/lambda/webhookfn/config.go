package webhookfn

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statestore"
)

// EnvTopicARN names the SNS topic the webhook function publishes to.
const EnvTopicARN = "ALERT_TOPIC_ARN"

// Config is the webhook function's configuration.
type Config struct {
	SecretID      string // the secret holding webhookSecret (COMPLYCUBE_SECRET_ID)
	WebhookSecret string // local runs only (WEBHOOK_SECRET)
	TopicARN      string
	FunctionName  string
	StateTable    string
	// AWS is the AWS configuration the secret, the table and the topic are
	// reached with (FromEnv reads it from the environment). Nil: no AWS.
	AWS *awsenv.Env
}

var topicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// LoadConfig reads the configuration through getenv; a value that cannot
// be parsed is an error naming its variable. The topic is required unless
// local is set (the dev server logs instead of publishing).
func LoadConfig(getenv func(string) string, local bool) (Config, error) {
	c := Config{
		SecretID:      strings.TrimSpace(getenv(startup.EnvSecretID)),
		WebhookSecret: strings.TrimSpace(getenv(startup.EnvWebhookSecret)),
		TopicARN:      strings.TrimSpace(getenv(EnvTopicARN)),
		FunctionName:  strings.TrimSpace(getenv(startup.EnvFunctionName)),
		StateTable:    strings.TrimSpace(getenv(statestore.EnvStateTable)),
	}
	if c.SecretID != "" {
		c.WebhookSecret = "" // the secret holds it
	} else if c.WebhookSecret == "" {
		return Config{}, &startup.ConfigError{Variable: startup.EnvSecretID, Err: fmt.Errorf("is required (or %s for local runs)", startup.EnvWebhookSecret)}
	}
	switch {
	case c.TopicARN == "" && !local:
		return Config{}, &startup.ConfigError{Variable: EnvTopicARN, Err: fmt.Errorf("is required")}
	case c.TopicARN != "" && !topicARN.MatchString(c.TopicARN):
		return Config{}, &startup.ConfigError{Variable: EnvTopicARN, Err: fmt.Errorf("%q is not an SNS topic ARN", c.TopicARN)}
	}
	return c, nil
}
