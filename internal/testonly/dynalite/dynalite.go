// Package dynalite runs dynalite (npm, pinned in testdata/package-lock.json),
// a DynamoDB API server on Node.js, on a loopback port for one test, so
// that the state adapter (internal/lambda/dynamostate) and the functions'
// tests talk to a real DynamoDB protocol through the real aws-sdk-go-v2
// client rather than a mock. It is installed once per machine with npm ci
// into the user's cache folder and shared by every test package.
//
// dynalite keeps its tables in memory, so each Server starts empty. It
// does not emulate Time to Live (UpdateTimeToLive is unknown to it): the
// adapter must not rely on TTL deletion anyway (docs: "Memory across
// instances"). Table names need 3 characters or more.
package dynalite

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

// Static credentials and region: dynalite accepts any signature, but the
// SDK will not sign without them.
const (
	AccessKeyID     = "AKIDDYNALITETEST"
	SecretAccessKey = "dynalite-test-secret"
	Region          = "us-east-1"
)

// startTimeout bounds how long Node may take to load dynalite and listen.
const startTimeout = 30 * time.Second

// server is the program Node runs. dynalite's cli.js takes --host, but it
// reads --port 0 as "no port" and listens on 4567, so a free port would
// have to be guessed and could be taken before dynalite binds it; loading
// the package and listening on port 0 lets the kernel pick one, which the
// script prints. Tables become ACTIVE at once (dynalite's default keeps
// them CREATING for half a second). The script ends when its stdin closes,
// which the kernel does when the test process dies however it dies, so no
// dynalite outlives its test.
const server = `
const dynalite = require(process.argv[1]);
const srv = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
srv.on('error', (e) => { console.error(e); process.exit(1); });
srv.listen(0, '127.0.0.1', () => { console.log('dynalite listening on port ' + srv.address().port); });
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
`

var listening = regexp.MustCompile(`dynalite listening on port (\d+)`)

// Server is one running dynalite, bound to 127.0.0.1 only.
type Server struct {
	url    string
	cmd    *exec.Cmd
	stdin  interface{ Close() error }
	output *syncbuf.Buffer // the process's stdout and stderr
	exited chan struct{}   // closed when the process has ended

	endOnce sync.Once
}

// Start installs dynalite if needed, starts it on a free loopback port and
// waits until it answers; t.Cleanup ends it. Without node or npm (or
// without a registry for the first install) the test is skipped, unless
// CI is set in the environment, where it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	checkTools(t)
	began := time.Now()
	dir := install(t)
	installed := time.Now()

	out := &syncbuf.Buffer{}
	cmd := exec.Command("node", "-e", server, entry(dir))
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dynalite: %v", err)
	}
	s := &Server{cmd: cmd, stdin: stdin, output: out, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("dynalite's output:\n%s", s.output.String())
		}
	})

	port := 0
	for deadline := time.Now().Add(startTimeout); port == 0; {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			port, _ = strconv.Atoi(m[1])
			break
		}
		select {
		case <-s.exited:
			t.Fatalf("dynalite ended before it listened:\n%s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dynalite did not listen within %v:\n%s", startTimeout, out.String())
		}
	}
	s.url = "http://127.0.0.1:" + strconv.Itoa(port)

	// Listening is not answering: one real call through the SDK proves
	// the protocol works end to end (signing, JSON 1.0, dynalite's CRC32
	// header that the SDK checks).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client(t).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite does not answer: %v\n%s", err, out.String())
	}
	t.Logf("dynalite %s: install %v (npm ci, or waiting for another package's; 0s when installed before), start %v", s.url, installed.Sub(began).Round(time.Millisecond), time.Since(installed).Round(time.Millisecond))
	return s
}

// URL is the endpoint, http://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// Config is an AWS SDK configuration that points DynamoDB at this server
// with static credentials; it reads nothing from the environment or from
// ~/.aws, so a developer's own AWS settings cannot leak in.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.url),
	}
}

// Client is an SDK client for this server. It tries a call at most twice,
// as the function's adapter does, so that a test of a table that is down
// does not wait through the SDK's default of four attempts.
func (s *Server) Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(s.Config(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
}

// CreateTable creates name with the contract's key schema (docs: "Memory
// across instances"): partition key pk, a string, no sort key, on-demand
// billing. It returns once the table is ACTIVE.
func (s *Server) CreateTable(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client(t)
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	for {
		d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatalf("describe table %s: %v", name, err)
		}
		if d.Table.TableStatus == types.TableStatusActive {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("table %s is still %s", name, d.Table.TableStatus)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Scan returns every item of table, for tests that check what is stored
// (every item has a ttl; no e-mail, IP address or name in clear).
func (s *Server) Scan(t testing.TB, table string) []map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client(t)
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := c.Scan(ctx, in)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Env is what a child process (the function under the Lambda emulator, the
// dev server) needs in its environment to use table on this server: what
// internal/lambda/awsenv reads (and the SDK's default chain too). It blanks AWS_SESSION_TOKEN and
// AWS_PROFILE, which would otherwise come along from the developer's
// environment; append it after os.Environ() so that it wins.
func (s *Server) Env(table string) []string {
	return []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.url,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"STATE_TABLE=" + table,
	}
}

// Kill ends the server at once (SIGKILL), as a table that is down: new
// connections are refused, open ones are reset. It is safe to call more
// than once, and after Freeze.
func (s *Server) Kill() {
	s.end(func() { s.cmd.Process.Kill() })
}

// Stop ends the server the way its own script would (its stdin closes),
// falling back to Kill after a few seconds.
func (s *Server) Stop() {
	s.end(func() {
		s.stdin.Close()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
		}
	})
}

func (s *Server) end(how func()) {
	s.endOnce.Do(func() {
		how()
		s.stdin.Close()
		<-s.exited
	})
}

// Exited reports whether the process has ended (killed, or crashed).
func (s *Server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}
