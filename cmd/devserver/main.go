// Command devserver serves the create-session handler over plain HTTP on
// localhost, through the same API Gateway event conversion as on AWS, with
// the example static site on a second origin. With no key and no
// COMPLYCUBE_BASE_URL it runs an embedded ComplyCube simulator, so the whole
// flow works with no keys and no network.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/complycube"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statusfn"
	"github.com/complycube-session/createsession/internal/lambda/webhookfn"
	"github.com/complycube-session/createsession/internal/local/devlog"
	"github.com/complycube-session/createsession/internal/local/localhttp"
	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/local/turnstilestandin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

// invocationTimeout matches the function's Timeout in template.yaml.
const invocationTimeout = 15 * time.Second

// shutdownGrace is how long in-flight requests get after Ctrl-C.
const shutdownGrace = 10 * time.Second

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return runWith(ctx, args, getenv, stdout, nil)
}

// runWith is run, handing the simulator, when one runs, to onSimulator
// (tests read its fault counts).
func runWith(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, onSimulator func(*simulator.Simulator)) error {
	fs := flag.NewFlagSet("devserver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "address of the API (POST /sessions)")
	siteAddr := fs.String("site-addr", "127.0.0.1:8000", `address of the example static site; "" to not serve it`)
	siteDir := fs.String("site-dir", "examples/static-site", "folder of the static site")
	simAddr := fs.String("simulator-addr", "127.0.0.1:3100", "address of the ComplyCube simulator, when it runs")
	faultRate := fs.Float64("simulator-fault-rate", 0, "share (0 to 1) of simulator calls that fail: a reset, a 500, or an answer late by -simulator-fault-delay")
	faultDelay := fs.Duration("simulator-fault-delay", 6*time.Second, "how late a slow simulator answer is (past UPSTREAM_TIMEOUT, it becomes a 504)")
	simRate := fs.Float64("simulator-rate", simulator.DefaultRate, "API calls a second the simulator answers before it answers 429, as ComplyCube does (5 for sandbox keys, 10 for live ones); 0 for no limit")
	logFormat := fs.String("log", "text", "text: one short line per request, for a person at a terminal; json: the JSON lines with embedded metrics that the functions write on Lambda")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h printed the usage; asking for it is no error
		}
		return err
	}
	if *faultRate < 0 || *faultRate > 1 {
		return fmt.Errorf("-simulator-fault-rate %v: must be from 0 to 1", *faultRate)
	}
	// requests nil: the functions' own JSON lines, as on Lambda.
	var log *slog.Logger
	var requests api.RequestLog
	switch *logFormat {
	case "json":
		log = startup.NewLogger(stdout)
	case "text":
		log, requests = devlog.NewLogger(stdout), devlog.New(stdout)
	default:
		return fmt.Errorf("-log %q: must be text or json", *logFormat)
	}

	apiLn, err := listen(*addr, "-addr")
	if err != nil {
		return err
	}
	defer apiLn.Close()
	apiURL := "http://" + apiLn.Addr().String()

	var siteLn net.Listener
	siteURL := ""
	if *siteAddr != "" {
		if _, err := os.Stat(filepath.Join(*siteDir, "index.html")); err != nil {
			return fmt.Errorf("-site-dir %s: no index.html there (run from the repository root, or pass -site-dir)", *siteDir)
		}
		if siteLn, err = listen(*siteAddr, "-site-addr"); err != nil {
			return err
		}
		defer siteLn.Close()
		siteURL = "http://" + siteLn.Addr().String()
	}

	// What the dev server sets for the function, over the environment.
	overrides := map[string]string{}
	env := func(k string) string {
		if v, ok := overrides[k]; ok {
			return v
		}
		return getenv(k)
	}
	useSimulator := getenv(startup.EnvSecretID) == "" && getenv(startup.EnvAPIKey) == "" && getenv(sessionfn.EnvBaseURL) == ""
	var simLn net.Listener
	var sim *simulator.Simulator
	simURL := ""
	if useSimulator {
		if simLn, err = listen(*simAddr, "-simulator-addr"); err != nil {
			return err
		}
		defer simLn.Close()
		simURL = "http://" + simLn.Addr().String()
		sim = simulator.New(simURL)
		sim.SetFaults(*faultRate, *faultDelay)
		sim.SetRateLimit(*simRate)
		if onSimulator != nil {
			onSimulator(sim)
		}
		overrides[startup.EnvAPIKey] = simulator.DefaultKey
		overrides[sessionfn.EnvBaseURL] = simURL
	}
	if siteURL != "" && getenv(sessionfn.EnvAllowedOrigins) == "" {
		// The example site is another origin, as in production: allow it.
		overrides[sessionfn.EnvAllowedOrigins] = siteURL + "," + strings.Replace(siteURL, "127.0.0.1", "localhost", 1)
	}
	if getenv(sessionfn.EnvClientSource) == "" {
		// The example site's sign-up form: the flow a static site without
		// a backend uses.
		overrides[sessionfn.EnvClientSource] = string(handler.SourceSignup)
	}
	// With BOT_CHECK=turnstile and no siteverify of its own, the dev server
	// stands in for Cloudflare: the widget script and siteverify, served by
	// the API server, with a secret key made for this run.
	var botStandIn *turnstilestandin.Handler
	if strings.TrimSpace(getenv(sessionfn.EnvBotCheck)) == "turnstile" && getenv(sessionfn.EnvTurnstileVerifyURL) == "" {
		botStandIn = turnstilestandin.New(turnstilestandin.Config{Secret: "standin-" + newInvitationKey()})
		overrides[sessionfn.EnvTurnstileVerifyURL] = apiURL + turnstilestandin.SiteverifyPath
		if getenv(startup.EnvSecretID) == "" {
			overrides[startup.EnvTurnstileKey] = botStandIn.Secret()
		}
	}
	// The webhook receiver's secret: WEBHOOK_SECRET, or one made now and
	// shared with the simulator, which signs its webhooks with it.
	webhookSecret := getenv(startup.EnvWebhookSecret)
	if webhookSecret == "" {
		webhookSecret = newInvitationKey()
	}
	if sim != nil {
		sim.SetWebhook(apiURL+"/webhooks", webhookSecret)
	}
	// With invitations, the dev server signs with INVITATION_KEY, or with a
	// key it makes now, unless the key lives in a configured secret.
	invitationKey := ""
	if handler.ClientSource(env(sessionfn.EnvClientSource)) == handler.SourceInvitation && getenv(startup.EnvSecretID) == "" {
		if invitationKey = getenv(startup.EnvInvitationKey); invitationKey == "" {
			invitationKey = newInvitationKey()
			overrides[startup.EnvInvitationKey] = invitationKey
		}
	}

	// A configuration value that cannot be parsed stops the server before
	// it invites anyone to open the site.
	cfg, err := sessionfn.LoadConfig(env)
	if err == nil && cfg.SecretID != "" {
		// A real secret, read with the developer's own AWS credentials:
		// the SDK's default chain (profiles, SSO), which the functions on
		// Lambda do without.
		var awsCfg aws.Config
		if awsCfg, err = config.LoadDefaultConfig(ctx); err == nil {
			cfg.AWS = awsenv.FromConfig(awsCfg)
		}
	}
	if err != nil {
		startup.LogError(log, err)
		return err
	}
	if useSimulator {
		fmt.Fprintf(stdout, "devserver: no ComplyCube key and no COMPLYCUBE_BASE_URL configured, so the embedded ComplyCube simulator answers at %s; open %s to try the flow (API: %s/sessions)\n",
			simURL, orNone(siteURL), apiURL)
	} else {
		fmt.Fprintf(stdout, "devserver: API at %s/sessions calling %s; example site at %s\n", apiURL, orDefault(getenv(sessionfn.EnvBaseURL), complycube.DefaultBaseURL), orNone(siteURL))
	}
	fmt.Fprintf(stdout, "devserver: CLIENT_SOURCE=%s\n", cfg.ClientSource)
	if botStandIn != nil {
		fmt.Fprintf(stdout, "devserver: BOT_CHECK=turnstile: a local stand-in for Cloudflare Turnstile serves the widget and siteverify at %s\n", apiURL+turnstilestandin.PathPrefix)
	}
	if cfg.ClientSource == handler.SourceInvitation {
		if err := printInvitation(stdout, sim, invitationKey, siteURL, time.Now()); err != nil {
			return err
		}
	}
	// One shared state for the three functions, in memory, as one
	// DynamoDB table is on AWS: the webhook's status reaches the status
	// route, and the sign-up limits count across requests.
	store := memstate.New()
	fn, err := sessionfn.Build(ctx, cfg, store, log, requests)
	if err != nil {
		startup.LogError(log, err)
		return err
	}

	// The webhook function's own code, with a publisher that logs what it
	// would send to the alert topic.
	hooks, err := webhookfn.Build(ctx, webhookfn.Config{WebhookSecret: webhookSecret, FunctionName: "local-webhook"}, logPublisher{log: log, subjectOnly: *logFormat == "text"}, store, log, requests)
	if err != nil {
		startup.LogError(log, err)
		return err
	}
	statusCfg, err := statusfn.LoadConfig(env)
	if err != nil {
		startup.LogError(log, err)
		return err
	}
	statusCfg.FunctionName = "local-status"
	statuses := statusfn.Build(statusCfg, store, log, requests)
	mux := http.NewServeMux()
	mux.Handle("/sessions", localhttp.Server{Lambda: fn, Timeout: invocationTimeout})
	mux.Handle("/webhooks", localhttp.Server{Lambda: hooks, Timeout: webhookTimeout})
	mux.Handle("/sessions/status", localhttp.Server{Lambda: statuses, Timeout: invocationTimeout})
	site := siteConfig{endpoint: apiURL + "/sessions", source: cfg.ClientSource}
	if botStandIn != nil {
		mux.Handle(turnstilestandin.PathPrefix, botStandIn)
		site.turnstileScript, site.turnstileSiteKey = apiURL+turnstilestandin.ScriptPath, turnstilestandin.DefaultSiteKey
	} else if cfg.BotCheck {
		// A siteverify of the developer's own (TURNSTILE_VERIFY_URL): the
		// page uses Cloudflare's widget with TURNSTILE_SITE_KEY.
		site.turnstileScript, site.turnstileSiteKey = cloudflareScript, getenv("TURNSTILE_SITE_KEY")
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"type":"resource_not_found","message":"The endpoints are POST /sessions, POST /sessions/status and POST /webhooks."}`)
	})
	// front are the servers a browser talks to; the simulator is behind them.
	front := []*server{{ln: apiLn, srv: newServer(mux)}}
	if siteLn != nil {
		front = append(front, &server{ln: siteLn, srv: newServer(siteHandler(*siteDir, site))})
	}
	var simServer *server
	all := front
	if sim != nil {
		simServer = &server{ln: simLn, srv: newServer(sim)}
		all = append(all[:len(all):len(all)], simServer)
	}
	errc := make(chan error, len(all))
	for _, s := range all {
		go func() { errc <- s.srv.Serve(s.ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(stdout, "devserver: shutting down; waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// The API and the site first: requests in flight finish, including
	// their calls to the simulator. The simulator is then closed at once:
	// nothing is left for it to answer, and Shutdown would wait about 5 s
	// for the connection the function opened to it in advance and never
	// used (http.Server counts a new connection as busy for 5 s).
	var errs []error
	for _, s := range front {
		if err := s.srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, err)
		}
	}
	if simServer != nil {
		errs = append(errs, simServer.srv.Close())
	}
	return errors.Join(errs...)
}

type server struct {
	ln  net.Listener
	srv *http.Server
}

func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
}

// listen binds addr, which must be a loopback address: the dev server is
// for one machine and holds a key.
func listen(addr, flagName string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flagName, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s %q: the dev server listens on loopback only (127.0.0.1, ::1 or localhost)", flagName, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return ln, nil
}

// The configuration lines at the start of the site's scripts, which the
// dev server points at this run's API, client source and bot check.
var (
	endpointLine        = regexp.MustCompile(`(?m)^const ENDPOINT = "[^"]*";`)
	sourceLine          = regexp.MustCompile(`(?m)^const CLIENT_SOURCE = "[^"]*";`)
	turnstileScriptLine = regexp.MustCompile(`(?m)^const TURNSTILE_SCRIPT = "[^"]*";`)
	turnstileSiteLine   = regexp.MustCompile(`(?m)^const TURNSTILE_SITE_KEY = "[^"]*";`)
)

// cloudflareScript is Turnstile's widget script.
const cloudflareScript = "https://challenges.cloudflare.com/turnstile/v0/api.js"

// siteConfig is what the site's scripts are told.
type siteConfig struct {
	endpoint                          string
	source                            handler.ClientSource
	turnstileScript, turnstileSiteKey string // "" without the bot check
}

// siteHandler serves the static site, with the configuration lines of its
// top-level scripts (app.js, status.js) set from site.
func siteHandler(dir string, site siteConfig) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		name := path.Base(r.URL.Path)
		if path.Ext(name) != ".js" || path.Dir(r.URL.Path) != "/" {
			files.ServeHTTP(w, r)
			return
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		src = endpointLine.ReplaceAll(src, []byte(`const ENDPOINT = "`+site.endpoint+`";`))
		src = sourceLine.ReplaceAll(src, []byte(`const CLIENT_SOURCE = "`+string(site.source)+`";`))
		src = turnstileScriptLine.ReplaceAll(src, []byte(`const TURNSTILE_SCRIPT = "`+site.turnstileScript+`";`))
		src = turnstileSiteLine.ReplaceAll(src, []byte(`const TURNSTILE_SITE_KEY = "`+jsString(site.turnstileSiteKey)+`";`))
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(src)
	})
}

// jsString keeps a value from the environment inside its JavaScript
// string: a site key is letters, digits, '-' and '_'.
func jsString(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
}

// webhookTimeout matches the webhook function's Timeout in template.yaml.
const webhookTimeout = 10 * time.Second

// logPublisher is the dev server's alert topic: it logs the message the
// webhook function would publish; at a terminal (-log text) its subject
// only, one line (the subject names the event, its outcome and client).
type logPublisher struct {
	log         *slog.Logger
	subjectOnly bool
}

func (p logPublisher) Publish(_ context.Context, subject, message string) error {
	if p.subjectOnly {
		p.log.Info("would publish to the alert topic", slog.String("subject", subject))
		return nil
	}
	p.log.Info("would publish to the alert topic", slog.String("subject", subject), slog.String("message", message))
	return nil
}

// invitationTTL is how long the dev server's invitation link works.
const invitationTTL = 72 * time.Hour

// demoTemplate is the workflow template the example site uses.
const demoTemplate = "wt_example"

// newInvitationKey makes a signing key for this run (48 random bytes,
// base64, as `openssl rand -base64 48` does).
func newInvitationKey() string {
	b := make([]byte, 48)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// printInvitation prints a ready invitation link to the example site, for
// a client it registers with the simulator.
func printInvitation(w io.Writer, sim *simulator.Simulator, key, siteURL string, now time.Time) error {
	if key == "" {
		fmt.Fprintln(w, "devserver: the invitation key is in COMPLYCUBE_SECRET_ID's secret; make links with: go run ./cmd/invite -client ID -link URL")
		return nil
	}
	clientID := "5eb04fcd0f3e360008035eb1"
	if sim != nil {
		clientID = sim.AddClient(simulator.Client{Type: "person", Email: "invited@example.com", PersonDetails: map[string]string{"firstName": "Invited", "lastName": "Person"}}).ID
	}
	token, err := invitation.Mint([]byte(key), invitation.Claims{ClientID: clientID, WorkflowTemplateID: demoTemplate, ExpiresAt: now.Add(invitationTTL)}, now)
	if err != nil {
		return fmt.Errorf("make the invitation: %w", err)
	}
	link := token // with no site served, the token alone
	if siteURL != "" {
		link = siteURL + "/?invitation=" + token
	}
	fmt.Fprintf(w, "devserver: invitation for client %s, valid %v: %s\n", clientID, invitationTTL, link)
	return nil
}

func orNone(s string) string { return orDefault(s, "(no site served)") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
