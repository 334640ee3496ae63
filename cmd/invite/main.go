// Command invite prints a signed invitation for one ComplyCube client: a
// token for the create-session function's CLIENT_SOURCE=invitation, or the
// link URL?invitation=TOKEN to send to the person. It signs with the
// secret's invitationKey (COMPLYCUBE_SECRET_ID, read with the caller's AWS
// credentials) or, for local use, with INVITATION_KEY.
//
//	go run ./cmd/invite -client 5eb04fcd0f3e360008035eb1 -link https://www.example.com/verify
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/internal/lambda/secret"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr, time.Now); err != nil {
		fmt.Fprintln(os.Stderr, "invite:", err)
		os.Exit(2)
	}
}

// The variables it reads, as the functions name them; it does not link
// their wiring (internal/lambda/startup) for two names.
const (
	envSecretID      = "COMPLYCUBE_SECRET_ID"
	envInvitationKey = "INVITATION_KEY"
)

// secretReadTimeout bounds the read of the signing key from Secrets Manager.
const secretReadTimeout = 10 * time.Second

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := fs.String("client", "", "the ComplyCube client ID the invitation is for (required)")
	template := fs.String("template", "", "a workflow template ID; it replaces the one the page sends, and must be on the function's WORKFLOW_TEMPLATE_IDS when that is set")
	ttl := fs.Duration("ttl", 72*time.Hour, "how long the invitation works, at most 720h (30 days)")
	link := fs.String("link", "", "print the link LINK?invitation=TOKEN instead of the token alone (your page that POSTs to the function)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: invite -client ID [-template WT] [-ttl 72h] [-link URL]")
		fmt.Fprintln(stderr, "signs with the invitationKey of the secret COMPLYCUBE_SECRET_ID, or with INVITATION_KEY")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *client == "" {
		return errors.New("-client is required")
	}
	if *ttl <= 0 || *ttl > invitation.MaxLifetime {
		return fmt.Errorf("-ttl %v: must be above 0 and at most 720h (30 days)", *ttl)
	}
	var base *url.URL
	if *link != "" {
		u, err := url.Parse(*link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("-link %q: must be an absolute http(s) URL without a #fragment", *link)
		}
		base = u
	}
	key, err := signingKey(ctx, getenv)
	if err != nil {
		return err
	}
	issued := now()
	token, err := invitation.Mint(key, invitation.Claims{ClientID: *client, WorkflowTemplateID: *template, ExpiresAt: issued.Add(*ttl)}, issued)
	if err != nil {
		return err
	}
	if base == nil {
		fmt.Fprintln(stdout, token)
		return nil
	}
	q := base.Query()
	q.Set("invitation", token)
	base.RawQuery = q.Encode()
	fmt.Fprintln(stdout, base.String())
	return nil
}

// signingKey reads the invitation key: the secret's when
// COMPLYCUBE_SECRET_ID is set, else INVITATION_KEY.
func signingKey(ctx context.Context, getenv func(string) string) ([]byte, error) {
	if id := strings.TrimSpace(getenv(envSecretID)); id != "" {
		ctx, cancel := context.WithTimeout(ctx, secretReadTimeout)
		defer cancel()
		// The operator's own credentials: the SDK's default chain (a
		// profile, SSO, the environment).
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		cache := secret.NewCache(secret.NewSecretsManager(cfg, nil, id), secret.WithFetchTimeout(secretReadTimeout))
		key, err := cache.InvitationKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("the signing key from %s: %w", envSecretID, err)
		}
		return key, nil
	}
	if k := strings.TrimSpace(getenv(envInvitationKey)); k != "" {
		if err := invitation.CheckKey([]byte(k)); err != nil {
			return nil, fmt.Errorf("%s %w", envInvitationKey, err)
		}
		return []byte(k), nil
	}
	return nil, fmt.Errorf("no signing key: set %s (the secret with invitationKey) or %s", envSecretID, envInvitationKey)
}
