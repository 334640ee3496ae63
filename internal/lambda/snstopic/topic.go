// Package snstopic publishes the operator's messages to the stack's SNS
// topic with aws-sdk-go-v2/service/sns. It implements the webhook core's
// Publisher port.
package snstopic

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// PublishAPI is the one SNS call the function makes.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Topic publishes to one topic.
type Topic struct {
	ARN    string
	client PublishAPI
}

// New returns a Topic for arn that publishes with client (NewClient's).
func New(arn string, client PublishAPI) *Topic {
	return &Topic{ARN: arn, client: client}
}

// NewClient returns an SNS client for cfg, sending over httpClient when it
// is not nil (one with a connection made in advance: a webhook's first
// publish then skips the TLS handshake).
func NewClient(cfg aws.Config, httpClient *http.Client) *sns.Client {
	return sns.NewFromConfig(cfg, func(o *sns.Options) {
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
	})
}

// Publish sends one message with its subject.
func (t *Topic) Publish(ctx context.Context, subject, message string) error {
	if t.ARN == "" {
		return errors.New("no topic ARN configured")
	}
	if t.client == nil {
		return errors.New("no SNS client configured")
	}
	if _, err := t.client.Publish(ctx, &sns.PublishInput{TopicArn: &t.ARN, Subject: &subject, Message: &message}); err != nil {
		return fmt.Errorf("publish to %s: %w", t.ARN, err)
	}
	return nil
}
