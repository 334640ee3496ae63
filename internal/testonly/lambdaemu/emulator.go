// Package lambdaemu runs a real bootstrap binary under the AWS Lambda Runtime
// Interface Emulator (the program `sam local` runs inside its container), for
// end-to-end tests and benchmarks on machines without Docker.
package lambdaemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

// RIEModule is the emulator version the project tests against.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// FindRIE returns the emulator's path: $AWS_LAMBDA_RIE, then PATH, then
// GOPATH/bin; failing those it installs RIEModule into the user cache.
func FindRIE() (string, error) {
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "createsession-rie")
	p := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	cmd := exec.Command("go", "install", RIEModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install %s: %v\n%s", RIEModule, err, out)
	}
	return p, nil
}

// ModuleRoot returns the directory of the main module (the repository).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the module")
	}
	return filepath.Dir(mod), nil
}

// BuildFunction builds the template's function logicalID as dir/bootstrap
// through the Makefile's build-<logicalID> target, the one `sam build`
// runs, for this machine's architecture so that the emulator can run it.
func BuildFunction(logicalID, dir string) (string, error) {
	return makeBootstrap(dir, "build-"+logicalID, "GOARCH="+runtime.GOARCH)
}

// BuildFunctionAt is BuildFunction for the module as it was at the git
// revision rev: the revision is exported (git archive) into dir/src and
// built there with its own Makefile, so that the benchmark can measure an
// earlier commit beside the working tree, in the same run.
func BuildFunctionAt(rev, logicalID, dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	tarball := filepath.Join(dir, "src.tar")
	for _, args := range [][]string{{"git", "-C", root, "archive", "--format=tar", "-o", tarball, rev}, {"tar", "-x", "-f", tarball, "-C", src}} {
		if b, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("export %s: %s: %v\n%s", rev, strings.Join(args, " "), err, b)
		}
	}
	return makeIn(src, dir, "build-"+logicalID, "GOARCH="+runtime.GOARCH)
}

// BuildAsSAM builds the template's function logicalID exactly as `sam
// build` does: `make -f Makefile build-<logicalID>` with only
// ARTIFACTS_DIR set, so for the Makefile's architecture (Lambda's arm64).
func BuildAsSAM(logicalID, dir string) (string, error) {
	return makeBootstrap(dir, "build-"+logicalID)
}

// BuildBootstrap builds any main package pkg (e.g. "./bench/hello") as
// dir/bootstrap with the same flags, through the Makefile's bootstrap
// target, for this machine's architecture.
func BuildBootstrap(pkg, dir string) (string, error) {
	return makeBootstrap(dir, "bootstrap", "PKG="+pkg, "GOARCH="+runtime.GOARCH)
}

// makeBootstrap runs a Makefile target with ARTIFACTS_DIR=dir and vars,
// and returns dir/bootstrap.
func makeBootstrap(dir, target string, vars ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return makeIn(root, dir, target, vars...)
}

// makeIn runs the Makefile target of the module at root.
func makeIn(root, dir, target string, vars ...string) (string, error) {
	args := append([]string{"-f", "Makefile", target, "ARTIFACTS_DIR=" + dir}, vars...)
	cmd := exec.Command("make", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return filepath.Join(dir, "bootstrap"), nil
}

// Emulator is one running emulator with its function.
type Emulator struct {
	cmd    *exec.Cmd
	addr   string
	output *syncbuf.Buffer
	done   chan struct{}
}

// TemplateRuntimeEnv is the Go runtime's part of what template.yaml sets on
// both functions: SSL_CERT_FILE and SSL_CERT_DIR so that Go loads Amazon
// Linux 2023's trusted roots once, from the one bundle, instead of parsing
// each root about three times (the bundle, then /etc/ssl/certs and
// /etc/pki/tls/certs, which hold the same roots again; the second names a
// folder that does not exist, so no folder is read), and GOMAXPROCS=1,
// since a function at a fraction of a core gains nothing from a second
// scheduler thread and pays for it. The template test and the benchmark
// use it.
var TemplateRuntimeEnv = []string{"SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt", "SSL_CERT_DIR=/nonexistent", "GOMAXPROCS=1"}

// AWSEnv is the environment Lambda gives a function, as far as the tests
// need it, with Secrets Manager at secretsManagerURL (a local fake): static
// test credentials, and no instance metadata lookup, which could stall for
// seconds where no metadata endpoint answers. Callers append their own
// function's variables.
func AWSEnv(secretsManagerURL string) []string {
	return []string{
		"AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIDLOCALTEST",
		"AWS_SECRET_ACCESS_KEY=local-test-secret-access-key",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secretsManagerURL,
		"AWS_LAMBDA_FUNCTION_NAME=CreateSessionFunction",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=15",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
	}
}

// SetAWSEnv sets AWSEnv(secretsManagerURL) and extra (KEY=VALUE) in the
// test's own environment, for tests that build a function in process with
// the real SDK, and points the SDK's config and credential files away.
func SetAWSEnv(t testing.TB, secretsManagerURL string, extra ...string) {
	t.Helper()
	for _, kv := range append(AWSEnv(secretsManagerURL), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// Start runs the emulator for bootstrap with env (KEY=VALUE) added to a
// minimal environment, on two free loopback ports.
func Start(rie, bootstrap string, env []string) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	e := &Emulator{addr: "127.0.0.1:" + strconv.Itoa(ports[0]), output: &syncbuf.Buffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", e.addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	e.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LOG_LEVEL=info"}, env...)
	e.cmd.Stdout = e.output
	e.cmd.Stderr = e.output
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	go func() { e.cmd.Wait(); close(e.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", e.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.done:
			return nil, fmt.Errorf("emulator exited at start:\n%s", e.output.String())
		default:
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, fmt.Errorf("emulator not listening on %s after 10s:\n%s", e.addr, e.output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Invoke sends one event and returns the function's answer, as the Lambda
// Invoke API would.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read invoke answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: emulator answered %d: %s", res.StatusCode, body)
	}
	return body, nil
}

// Output is everything the emulator and the function printed so far.
func (e *Emulator) Output() string { return e.output.String() }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration returns the duration of the INIT REPORT line, the true init
// time of the function (the REPORT line's Init Duration is not).
func (e *Emulator) InitDuration() (time.Duration, bool) {
	m := initReport.FindStringSubmatch(e.Output())
	if m == nil {
		return 0, false
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(ms * float64(time.Millisecond)), true
}

// FunctionPID returns the PID of the running bootstrap, a child of the
// emulator, to read its memory from /proc.
func (e *Emulator) FunctionPID(name string) (int, error) {
	// Any of the emulator's threads may have started it.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", e.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	var children []string
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		children = append(children, strings.Fields(string(data))...)
	}
	for _, f := range children {
		pid, _ := strconv.Atoi(f)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == name {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process named %s", name)
}

// ProcStatusKB reads a field such as VmHWM or VmRSS (in kB) of a process.
func ProcStatusKB(pid int, field string) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// Stop ends the emulator and its function.
func (e *Emulator) Stop() {
	if e.cmd.Process != nil {
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// LoadAWS is the AWS configuration a function's wiring reads
// (awsenv.Load) from the test's own environment, as SetAWSEnv left it: for
// tests that build a function from a Config rather than through FromEnv.
func LoadAWS(t testing.TB) *awsenv.Env {
	t.Helper()
	e, err := awsenv.Load(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// RIEForTest is the emulator's path for an end-to-end test: the test is
// skipped under -short, and fails when the emulator cannot be found.
func RIEForTest(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test under the emulator; -short skips it")
	}
	rie, err := FindRIE()
	if err != nil {
		t.Fatal(err)
	}
	return rie
}

// BuildFunctionForTest is BuildFunction into the test's own temporary
// folder; the test fails when the build does.
func BuildFunctionForTest(t testing.TB, logicalID string) string {
	t.Helper()
	bootstrap, err := BuildFunction(logicalID, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bootstrap
}
