// Package snstopic publishes the operator's messages to the stack's SNS
// topic with aws-sdk-go-v2/service/sns. It implements the webhook core's
// Publisher port.
package snstopic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// PublishAPI is the one SNS call the function makes.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Topic publishes to one topic. The SDK client is built on first use,
// inside the caller's deadline, so a slow credential lookup counts
// against the publish's own bound.
type Topic struct {
	ARN string

	mu         sync.Mutex
	client     PublishAPI
	httpClient *http.Client // for a client built here; nil: the SDK's own
}

// New returns a Topic for arn; client may be nil (built from the AWS SDK's
// default configuration on first use).
func New(arn string, client PublishAPI) *Topic {
	return &Topic{ARN: arn, client: client}
}

// NewPrepared returns a Topic for arn whose SDK client, carried by
// httpClient (one with a connection made in advance), is built now in the
// background, bounded by prepareTimeout: a webhook's first publish then
// pays for neither the SDK's configuration nor the TLS handshake.
func NewPrepared(ctx context.Context, arn string, httpClient *http.Client) *Topic {
	t := &Topic{ARN: arn, httpClient: httpClient}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prepareTimeout)
		defer cancel()
		t.sdk(ctx)
	}()
	return t
}

// prepareTimeout bounds NewPrepared's build.
const prepareTimeout = 3 * time.Second

// Publish sends one message with its subject.
func (t *Topic) Publish(ctx context.Context, subject, message string) error {
	if t.ARN == "" {
		return errors.New("no topic ARN configured")
	}
	client, err := t.sdk(ctx)
	if err != nil {
		return err
	}
	if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: &t.ARN, Subject: &subject, Message: &message}); err != nil {
		return fmt.Errorf("publish to %s: %w", t.ARN, err)
	}
	return nil
}

func (t *Topic) sdk(ctx context.Context) (PublishAPI, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		t.client = sns.NewFromConfig(cfg, func(o *sns.Options) {
			if t.httpClient != nil {
				o.HTTPClient = t.httpClient
			}
		})
	}
	return t.client, nil
}
