// Command bench measures the function's cold start, first answer, warm
// overhead, size and memory, side by side with a hello-world aws-lambda-go
// function (the floor) and the same function written the usual way
// (bench/baseline), all built and run in the same run under the AWS Lambda
// Runtime Interface Emulator, and prints one table; then the functions as
// deployed (create-session in each client source, status, webhook), on
// their DynamoDB table (dynalite behind TLS) with Turnstile and SNS over
// TLS, each against its own floor. See BENCHMARKS.md.
//
//	go run ./bench            # the full run (a few minutes)
//	go run ./bench -smoke     # every step once, small counts (CI)
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

const (
	apiKey   = "test_benchmark_key"
	secretID = "bench/complycube" // a bare key, as the baseline reads it
	origin   = "https://shop.example.com"
)

// maxBootstrapBytes is the bootstrap size target: the template test's
// limit (internal/testonly/samtemplate, 12 MiB), raised from 10 MB when
// every function came to link the DynamoDB client for the shared state.
const maxBootstrapBytes = 12 << 20

// progress is where the bench says what it is doing (stderr).
var progress io.Writer = os.Stderr

type options struct {
	cold, warm, mem int
	// The memory-size table (CPU share and AL2023 roots).
	sizes                []int
	fnSizes              []int // the sizes at which the deployed functions are measured too
	coldShare, warmShare int
	warmGap              time.Duration
	svg                  string
	onlySizes            bool
	rtt                  time.Duration // to ComplyCube and Turnstile
	rttSM                time.Duration // to Secrets Manager and SNS
	rttDB                time.Duration // to DynamoDB
	benchCount           int
	smoke                bool
	// against: a git revision whose create-session function (request and
	// sign-up modes) is measured beside the working tree's, in the same
	// run, at -fn-sizes.
	against string
}

func (o options) rtts() rtts {
	return rtts{cc: o.rtt, ts: o.rtt, sm: o.rttSM, sns: o.rttSM, db: o.rttDB}
}

func parseSizes(flagName, list string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 128 || n > 10240 {
			return nil, fmt.Errorf("-%s %q: each size must be a whole number of MB from 128 to 10240", flagName, f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func main() {
	var o options
	flag.IntVar(&o.cold, "cold", 10, "cold starts per variant and setting")
	flag.IntVar(&o.warm, "warm", 1000, "warm requests before the first memory reading")
	flag.IntVar(&o.mem, "mem", 10000, "warm requests before the second memory reading")
	flag.DurationVar(&o.rtt, "rtt", 40*time.Millisecond, "simulated network round trip to ComplyCube and to Turnstile")
	flag.DurationVar(&o.rttSM, "rtt-sm", -1, "simulated network round trip to Secrets Manager and to SNS (default: the same as -rtt)")
	flag.DurationVar(&o.rttDB, "rtt-db", -1, "simulated network round trip to DynamoDB (default: the same as -rtt-sm)")
	flag.IntVar(&o.benchCount, "bench-count", 5, "go test -bench -count")
	flag.BoolVar(&o.smoke, "smoke", false, "run every step once with small counts, to check the benchmark still works")
	sizes := flag.String("sizes", "128,256,512,1024,1769", "memory sizes (MB) of the CPU-share table; empty for none")
	fnSizes := flag.String("fn-sizes", "128,256", "memory sizes (MB), among -sizes, at which the deployed functions (each client source, status, webhook) are measured too")
	flag.IntVar(&o.coldShare, "cold-share", 5, "cold starts per variant and memory size")
	flag.IntVar(&o.warmShare, "warm-share", 10, "spaced warm requests per variant and memory size")
	flag.DurationVar(&o.warmGap, "warm-gap", 250*time.Millisecond, "the gap between warm requests, as on a quiet site")
	flag.StringVar(&o.svg, "svg", "", "write the memory-size chart to this SVG file (BENCHMARKS.md shows docs/memory-sizes.svg)")
	flag.BoolVar(&o.onlySizes, "only-sizes", false, "measure the memory-size table only (for trials)")
	flag.StringVar(&o.against, "against", "", "a git revision (commit, tag, HEAD~3) whose create-session function is measured beside the working tree's in the same run (request and sign-up modes, at -fn-sizes): before and after")
	extraEnv := flag.String("template-env", "", "KEY=VALUE,... added to the template functions' environment in the memory-size table, to try a template setting")
	flag.Parse()
	if *extraEnv != "" {
		templateExtraEnv = strings.Split(*extraEnv, ",")
	}
	var err error
	if o.sizes, err = parseSizes("sizes", *sizes); err == nil {
		o.fnSizes, err = parseSizes("fn-sizes", *fnSizes)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.rttSM < 0 {
		o.rttSM = o.rtt
	}
	if o.rttDB < 0 {
		o.rttDB = o.rttSM
	}
	if o.smoke {
		o.cold, o.warm, o.mem, o.benchCount = 1, 20, 200, 1
		o.sizes, o.fnSizes, o.coldShare, o.warmShare, o.warmGap = []int{128}, []int{128}, 1, 1, 10*time.Millisecond
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// variant is one program under test.
type variant struct {
	name      string // the key of its results; also its floor's (rtts.floorRTT)
	label     string // as printed
	pkg       string // a main package, built with the Makefile's flags
	logicalID string // or the template's function, built by its sam build target
	bootstrap string
	// asTemplate: run with the environment template.yaml gives the function
	// (the AL2023 trust-store settings), as deployed.
	asTemplate bool
	// env is added after the fakes' environment (so it wins).
	env []string
	// event makes the next invocation's event; nil is the request-mode
	// session request.
	event func() []byte
	// deployed: one of the functions as deployed beyond createsession's
	// request mode, measured in the deployed tables only.
	deployed bool
	// against: the git revision it is built from; empty: the working tree.
	against string
}

func (v *variant) nextEvent() []byte {
	if v.event == nil {
		return event
	}
	return v.event()
}

// shuffled is vs in a new random order, for one round of cold starts, so
// that whatever a variant's place in the round does to it (the cold start
// just before it, the machine's state) is not tied to that variant. Request
// mode measured against itself (built twice, -against HEAD, 15 cold starts
// each at 128 MB) read +17 ms of first answer in the fixed order and -20 ms
// shuffled: the spread of one run, which a fixed place would turn into a
// difference between variants whenever it is real.
func shuffled(vs []*variant) []*variant {
	out := slices.Clone(vs)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// coreNames are the variants of the first table and the chart.
var coreNames = []string{"hello-world", "baseline", "createsession"}

// deployedNames are the functions as deployed, in the deployed tables.
var deployedNames = []string{"createsession", "signup", "invitation", "status", "webhook"}

func byName(vs []*variant, name string) *variant {
	for _, v := range vs {
		if v.name == name {
			return v
		}
	}
	return nil
}

func run(o options, out io.Writer) error {
	work, err := os.MkdirTemp("", "createsession-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rie, err := lambdaemu.FindRIE()
	if err != nil {
		return err
	}
	f, err := startFakes(work, o.rtts())
	if err != nil {
		return err
	}
	defer f.close()
	d := f.dep
	variants := []*variant{
		{name: "hello-world", label: "hello-world", pkg: "./bench/hello"},
		{name: "baseline", label: "baseline", pkg: "./bench/baseline", env: []string{"COMPLYCUBE_SECRET_ID=" + secretID}},
		{name: "createsession", label: "create-session, request (clientId)", logicalID: "CreateSessionFunction", asTemplate: true},
		// Sign-up with the bot check on, as on the open internet. The
		// day's limit is raised so that a long run is never refused: its
		// value changes no request (one conditional UpdateItem either way).
		{name: "signup", label: "create-session, signup + bot check", logicalID: "CreateSessionFunction", asTemplate: true, deployed: true,
			env: []string{"CLIENT_SOURCE=signup", "BOT_CHECK=turnstile", "SIGNUPS_PER_DAY=1000000"}, event: d.signupEvent},
		{name: "invitation", label: "create-session, invitation", logicalID: "CreateSessionFunction", asTemplate: true, deployed: true,
			env: []string{"CLIENT_SOURCE=invitation"}, event: invitationEvent},
		// Request mode without the table (each instance's memory, as before
		// the table): what the table adds to a cold start, in the same run.
		{name: "createsession-notable", label: "create-session, request, without STATE_TABLE", logicalID: "CreateSessionFunction", asTemplate: true, deployed: true,
			env: []string{"STATE_TABLE="}},
		// Request mode with Go's own verification, which parses every
		// trusted root at the first handshake: the trust store hands
		// verification back to crypto/tls under x509usefallbackroots=1,
		// which without SetFallbackRoots changes nothing else in Go. What
		// internal/lambda/truststore saves, in the same run.
		{name: "createsession-goroots", label: "create-session, request, Go's own root loading", logicalID: "CreateSessionFunction", asTemplate: true, deployed: true,
			env: []string{"GODEBUG=x509usefallbackroots=1"}},
		{name: "status", label: "status", logicalID: "StatusFunction", asTemplate: true, deployed: true,
			env: []string{"AWS_LAMBDA_FUNCTION_NAME=StatusFunction"}, event: d.statusEvent},
		{name: "webhook", label: "webhook (a signed event)", logicalID: "WebhookFunction", asTemplate: true, deployed: true,
			env: []string{"AWS_LAMBDA_FUNCTION_NAME=WebhookFunction"}, event: webhookEvent},
	}
	if o.against != "" {
		// The same two modes, built from the earlier revision.
		for _, name := range []string{"createsession", "signup"} {
			v := *byName(variants, name)
			v.name, v.label, v.deployed, v.against = name+"@"+o.against, v.label+", at "+o.against, true, o.against
			variants = append(variants, &v)
		}
	}
	built := map[string]string{}
	for _, v := range variants {
		key := v.pkg + v.logicalID + "@" + v.against
		if b, ok := built[key]; ok {
			v.bootstrap = b
			continue
		}
		dir := filepath.Join(work, "build-"+v.name)
		os.MkdirAll(dir, 0o755)
		if v.against != "" {
			v.bootstrap, err = lambdaemu.BuildFunctionAt(v.against, v.logicalID, dir)
		} else if v.logicalID != "" {
			// The template's function, through the Makefile target sam build runs.
			v.bootstrap, err = lambdaemu.BuildFunction(v.logicalID, dir)
		} else {
			v.bootstrap, err = lambdaemu.BuildBootstrap(v.pkg, dir)
		}
		if err != nil {
			return err
		}
		built[key] = v.bootstrap
	}
	hello, baseline, ours := byName(variants, "hello-world"), byName(variants, "baseline"), byName(variants, "createsession")
	core := []*variant{hello, baseline, ours}

	if o.onlySizes {
		fmt.Fprintf(out, "createsession benchmark (-only-sizes), %s, %s/%s, %d CPUs, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
		return runSizes(o, out, work, rie, variants, f, func(bool) string { return "not judged (-only-sizes)" })
	}

	// 1 and 2: cold starts, without and with the simulated round trip.
	cold := map[string][]coldRun{}
	for _, setting := range []string{"local", "rtt"} {
		for i := 0; i < o.cold; i++ {
			for _, v := range shuffled(core) {
				r, err := coldStart(rie, f, v, f.env(v, setting == "rtt"))
				if err != nil {
					return fmt.Errorf("%s cold start (%s): %w", v.name, setting, err)
				}
				key := v.name + "/" + setting
				cold[key] = append(cold[key], r)
			}
		}
	}
	// The functions as deployed, at full CPU with the round trips.
	for i := 0; i < o.cold; i++ {
		for _, v := range shuffled(variants) {
			if !v.deployed {
				continue
			}
			r, err := coldStart(rie, f, v, f.env(v, true))
			if err != nil {
				return fmt.Errorf("%s cold start (rtt): %w", v.name, err)
			}
			cold[v.name+"/rtt"] = append(cold[v.name+"/rtt"], r)
		}
	}

	// Ours once more with the key in the environment: init without the
	// Secrets Manager read, to show what the read costs.
	for i := 0; i < o.cold; i++ {
		env := append(f.env(ours, false), "COMPLYCUBE_SECRET_ID=", "COMPLYCUBE_API_KEY="+apiKey)
		r, err := coldStart(rie, f, ours, env)
		if err != nil {
			return fmt.Errorf("%s cold start (key in the environment): %w", ours.name, err)
		}
		cold[ours.name+"/envkey"] = append(cold[ours.name+"/envkey"], r)
	}

	// What one TLS handshake with the fake Secrets Manager costs here: the
	// part of the key read that no code of ours can overlap with anything
	// else (local fakes, so the server's signature is on the same cores).
	handshakes := max(o.cold*2, 5)
	handshake, err := tlsHandshakes(f.sm, handshakes)
	if err != nil {
		return err
	}

	// 3: warm overhead, by go test -bench.
	benches, err := goBench(o.benchCount)
	if err != nil {
		return err
	}

	// 4: size and memory: each of the template's functions built exactly
	// as sam build builds it.
	type bootSize struct {
		label    string
		bin, zip int64
	}
	var boots []bootSize
	for _, fn := range []struct{ id, label string }{{"CreateSessionFunction", "create-session"}, {"WebhookFunction", "webhook"}, {"StatusFunction", "status"}} {
		armBin, err := buildARM64(work, fn.id)
		if err != nil {
			return err
		}
		binSize, zipSize, err := sizes(armBin)
		if err != nil {
			return err
		}
		boots = append(boots, bootSize{label: fn.label, bin: binSize, zip: zipSize})
	}
	mem1, mem2, warmMedian, err := warmMemory(rie, ours, f.env(ours, false), o.warm, o.mem)
	if err != nil {
		return err
	}

	// The table.
	med := func(key string, first bool) time.Duration {
		if first {
			return medianOf(cold[key], func(r coldRun) time.Duration { return r.first })
		}
		return medianOf(cold[key], func(r coldRun) time.Duration { return r.init })
	}
	helloInit, oursInit, baseInit := med(hello.name+"/local", false), med(ours.name+"/local", false), med(baseline.name+"/local", false)
	envInit := med(ours.name+"/envkey", false)
	rt := o.rtts()
	oursRTT, _, _ := rt.floorRTT("createsession")
	floor := med(hello.name+"/rtt", true) + oursRTT
	oursFirst, baseFirst := med(ours.name+"/rtt", true), med(baseline.name+"/rtt", true)
	warmNs, bareNs, onlyNs := benches["WarmRequest"], benches["BarePost"], benches["HandlerOnly"]

	verdict := func(ok bool) string {
		switch {
		case o.smoke:
			return "not judged (smoke)"
		case ok:
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(out, "createsession benchmark, %s, %s/%s, %d CPUs, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	if o.smoke {
		fmt.Fprintf(out, "SMOKE MODE: every step ran once with tiny counts; the figures below mean nothing and no target is judged\n")
	}
	fmt.Fprintf(out, "medians of %d cold starts per variant and setting; simulated round trip %v to ComplyCube and Turnstile, %v to Secrets Manager and SNS, %v to DynamoDB; go test -bench -count %d\n", o.cold, o.rtt, o.rttSM, o.rttDB, o.benchCount)
	fmt.Fprintf(out, "createsession runs as deployed in request mode: STATE_TABLE on dynalite behind TLS (its status token is written on every request)\n\n")
	fmt.Fprintf(out, "| measure | hello-world | baseline | createsession | ratio | target |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(out, "| init (INIT REPORT), local fakes | %s | %s | %s | %.2fx hello | <= 2x hello: %s |\n", ms(helloInit), ms(baseInit), ms(oursInit), ratio(oursInit, helloInit), verdict(ratio(oursInit, helloInit) <= 2))
	fmt.Fprintf(out, "| init (INIT REPORT), local fakes, key in the environment (no Secrets Manager read) | | | %s | %.2fx hello | |\n", ms(envInit), ratio(envInit, helloInit))
	fmt.Fprintf(out, "| init added by the Secrets Manager read (init minus init with the key in the environment), local fakes | | | %s | %.2fx one TLS handshake | |\n", ms(oursInit-envInit), ratio(oursInit-envInit, handshake))
	fmt.Fprintf(out, "| one TLS handshake with the fake Secrets Manager, median of %d (RSA-2048, server on the same cores) | | | %s | %.2fx hello init | |\n", handshakes, ms(handshake), ratio(handshake, helloInit))
	fmt.Fprintf(out, "| init (INIT REPORT), with the round trips | %s | %s | %s | | |\n", ms(med(hello.name+"/rtt", false)), ms(med(baseline.name+"/rtt", false)), ms(med(ours.name+"/rtt", false)))
	fmt.Fprintf(out, "| first answer after a cold start, with the round trips | %s | %s | %s | %.2fx floor, %.2fx baseline | <= 1.1x floor (%s): %s |\n", ms(med(hello.name+"/rtt", true)), ms(baseFirst), ms(oursFirst), ratio(oursFirst, floor), ratio(oursFirst, baseFirst), ms(floor), verdict(ratio(oursFirst, floor) <= 1.1))
	fmt.Fprintf(out, "| first answer after a cold start, local fakes | %s | %s | %s | | |\n", ms(med(hello.name+"/local", true)), ms(med(baseline.name+"/local", true)), ms(med(ours.name+"/local", true)))
	fmt.Fprintf(out, "| warm request through the handler (go test -bench) | | | %.1f µs, %d allocs | bare POST %.1f µs, %d allocs | |\n", warmNs.us(), warmNs.allocs, bareNs.us(), bareNs.allocs)
	fmt.Fprintf(out, "| warm overhead: handler minus bare POST | | | %.1f µs, %d allocs | | < 20 µs: %s |\n", warmNs.us()-bareNs.us(), warmNs.allocs-bareNs.allocs, verdict(warmNs.us()-bareNs.us() < 20))
	fmt.Fprintf(out, "| handler alone, in-memory ComplyCube (go test -bench) | | | %.1f µs, %d allocs | | |\n", onlyNs.us(), onlyNs.allocs)
	fmt.Fprintf(out, "| warm request through the emulator, median of %d | | | %s | | |\n", o.warm, ms(warmMedian))
	for _, b := range boots {
		fmt.Fprintf(out, "| bootstrap, linux/arm64, stripped: %s | | | %.1f MB (%d bytes) | | < 12 MiB: %s |\n", b.label, mb(b.bin), b.bin, verdict(b.bin < maxBootstrapBytes))
	}
	for _, b := range boots {
		target := ""
		if b.label == "create-session" {
			target = "< 4 MB: " + verdict(b.zip < 4e6)
		}
		fmt.Fprintf(out, "| bootstrap.zip: %s | | | %.1f MB | | %s |\n", b.label, mb(b.zip), target)
	}
	fmt.Fprintf(out, "| peak RSS (VmHWM) after %d / %d warm requests | | | %.1f / %.1f MB | %.2fx | < 32 MB, equal: %s |\n", o.warm, o.mem, float64(mem1)/1024, float64(mem2)/1024, float64(mem2)/float64(mem1), verdict(mem2 < 32*1024 && float64(mem2) <= 1.1*float64(mem1)))

	// The functions as deployed, at full CPU.
	fmt.Fprintf(out, "\n### The functions as deployed, at full CPU, with the round trips\n\n")
	fmt.Fprintf(out, "medians of %d cold starts each; floor = hello-world's first answer (%s) + the round trips that cannot overlap\n\n", o.cold, ms(med(hello.name+"/rtt", true)))
	fmt.Fprintf(out, "| function | init | first answer (cold) | floor | / floor | DynamoDB calls, first request | target |\n|---|---|---|---|---|---|---|\n")
	for _, name := range deployedNames {
		v := byName(variants, name)
		runs := cold[name+"/rtt"]
		add, _, _ := rt.floorRTT(name)
		fl := med(hello.name+"/rtt", true) + add
		first := med(name+"/rtt", true)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %.2fx | %s | <= 1.1x floor: %s |\n", v.label, ms(med(name+"/rtt", false)), ms(first), ms(fl), ratio(first, fl), opsString(typicalOps(runs)), verdict(ratio(first, fl) <= 1.1))
	}
	fmt.Fprintf(out, "\n")
	printConnections(out, variants, func(name string) []coldRun { return cold[name+"/rtt"] })
	printTableCost(out, "full CPU", cold[ours.name+"/rtt"], cold["createsession-notable/rtt"])
	printRootsSaving(out, "full CPU", cold[ours.name+"/rtt"], cold["createsession-goroots/rtt"])

	// 5: Lambda's shape: the CPU share by memory size and AL2023's roots.
	return runSizes(o, out, work, rie, variants, f, verdict)
}

// printTableCost says what the table adds to request mode's cold start:
// the runs with STATE_TABLE against those without, in the same run.
func printTableCost(out io.Writer, where string, with, without []coldRun) {
	printSameRun(out, "what the table adds to request mode's cold start", where, without, with, "without STATE_TABLE → with it")
}

// printRootsSaving says what the trust store saves in request mode's cold
// start: Go's own root loading against the trust store, in the same run.
func printRootsSaving(out io.Writer, where string, ours, goRoots []coldRun) {
	printSameRun(out, "what parsing only the roots a chain names saves in request mode's cold start", where, goRoots, ours, "Go's own root loading → internal/lambda/truststore")
}

// printSameRun compares two sets of cold starts of one run, from before
// to after.
func printSameRun(out io.Writer, what, where string, before, after []coldRun, how string) {
	if len(before) == 0 || len(after) == 0 {
		return
	}
	a, b := summarize(after, 0), summarize(before, 0)
	fmt.Fprintf(out, "- %s (%s): init %s → %s (%+.1f ms), first answer %s → %s (%+.1f ms), CPU time %s → %s (%+.1f ms), %s\n",
		what, where, ms(b.init), ms(a.init), msf(a.init-b.init), ms(b.first), ms(a.first), msf(a.first-b.first), ms(b.cpu), ms(a.cpu), msf(a.cpu-b.cpu), how)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// printConnections says, for each deployed function, what its cold starts
// did with DynamoDB (and Turnstile, SNS): the connection made during init
// and used by the first request.
func printConnections(out io.Writer, variants []*variant, runs func(name string) []coldRun) {
	for _, name := range deployedNames {
		v := byName(variants, name)
		rs := runs(name)
		if len(rs) == 0 {
			continue
		}
		fmt.Fprintf(out, "- %s: DynamoDB: %s", v.label, connVerdict(rs, func(u use) connUse { return u.db }))
		if name == "signup" {
			fmt.Fprintf(out, "; Turnstile: %s", connVerdict(rs, func(u use) connUse { return u.ts }))
		}
		if name == "webhook" {
			fmt.Fprintf(out, "; SNS: %s", lateConn(rs, func(u use) connUse { return u.sns }))
		}
		fmt.Fprintf(out, "\n")
	}
}

// runSizes measures and prints the memory-size table (the CPU share and
// AL2023's roots), the deployed functions' table at -fn-sizes, and writes
// the chart.
func runSizes(o options, out io.Writer, work, rie string, variants []*variant, f *fakes, verdict func(bool) string) error {
	ours := byName(variants, "createsession")
	if len(o.sizes) == 0 {
		return nil
	}
	cpuWhy, rootsWhy := checkShapes()
	if cpuWhy != "" || rootsWhy != "" {
		fmt.Fprintf(out, "\nSKIPPED the memory-size table (CPU share and AL2023 roots): %s\n", strings.Trim(cpuWhy+"; "+rootsWhy, "; "))
		return nil
	}
	shapes := &lambdaShapes{work: work, cgroups: map[int]string{}}
	defer shapes.close()
	rows, err := memorySizes(o, rie, shapes, variants, f, progress)
	if err != nil {
		return err
	}
	// Ours at 128 MB without the template's trust-store settings: what
	// they save.
	var before sizeResult
	if slices.Contains(o.sizes, 128) {
		plain := *ours
		plain.asTemplate = false
		var runs []coldRun
		for i := 0; i < o.coldShare; i++ {
			r, err := coldStartIn(rie, shapes, f, &plain, shape{memMB: 128, al2023: true}, f.al2023Env(&plain))
			if err != nil {
				return fmt.Errorf("createsession without the template's SSL settings: %w", err)
			}
			runs = append(runs, r)
		}
		before = summarize(runs, 0)
	}
	printSizes(out, o, rows, before, verdict)
	printDeployedSizes(out, o, variants, rows, verdict)
	if o.svg != "" {
		if err := writeSVG(o.svg, rows); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nchart written to %s\n", o.svg)
	}
	return nil
}

type fakes struct {
	sm, cc           *httptest.Server
	smProxy, ccProxy *latencyProxy
	dep              *deployedFakes
	caFile, certDir  string
}

// startFakes serves a fake Secrets Manager and the ComplyCube simulator over
// TLS (the simulator offers HTTP/2; the functions speak HTTP/1.1), each directly and behind a latency proxy,
// and the deployed functions' services (deployed.go).
func startFakes(work string, rtt rtts) (*fakes, error) {
	dep, err := startDeployedFakes(rtt)
	if err != nil {
		return nil, err
	}
	f := &fakes{dep: dep}
	sm := fakesecretsmanager.New()
	sm.SetSecret(secretID, apiKey)
	sm.SetSecret(jsonSecretID, dep.secretJSON())
	f.sm = httptest.NewUnstartedServer(sm)
	f.sm.StartTLS()
	sim := simulator.New("https://id.example.com", apiKey)
	f.cc = httptest.NewUnstartedServer(sim)
	f.cc.EnableHTTP2 = true
	f.cc.StartTLS()
	// The functions trust the test CA through the system roots, as they
	// trust Amazon's and ComplyCube's CAs on Lambda: one bundle file, the
	// machine's own bundle when it has one (so that loading the roots costs
	// what it does for real) with the test CA appended. SSL_CERT_DIR points
	// at an empty folder so that only that file is read. Every TLS fake
	// (httptest's) serves the same test certificate.
	bundle, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.sm.Certificate().Raw})...)
	f.caFile = filepath.Join(work, "ca-bundle.crt")
	f.certDir = filepath.Join(work, "certs")
	if err := os.WriteFile(f.caFile, bundle, 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(f.certDir, 0o755); err != nil {
		return nil, err
	}
	if f.smProxy, err = startLatencyProxy(f.sm.Listener.Addr().String(), rtt.sm); err != nil {
		return nil, err
	}
	if f.ccProxy, err = startLatencyProxy(f.cc.Listener.Addr().String(), rtt.cc); err != nil {
		return nil, err
	}
	return f, nil
}

// caPEM is the fakes' test CA, which the AL2023 trust store includes as
// Lambda's includes ComplyCube's and Amazon's CAs.
func (f *fakes) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.sm.Certificate().Raw})
}

func (f *fakes) close() {
	f.smProxy.Close()
	f.ccProxy.Close()
	f.sm.Close()
	f.cc.Close()
	f.dep.close()
}

// env is v's environment, with or without the round trips: the machine's
// trust store with the test CA, the fakes' addresses, the table, then v's
// own variables.
func (f *fakes) env(v *variant, withRTT bool) []string {
	sm, cc := f.sm.Listener.Addr().String(), f.cc.Listener.Addr().String()
	if withRTT {
		sm, cc = f.smProxy.Addr(), f.ccProxy.Addr()
	}
	env := append(lambdaemu.AWSEnv("https://"+sm),
		"SSL_CERT_FILE="+f.caFile, "SSL_CERT_DIR="+f.certDir,
		"COMPLYCUBE_SECRET_ID="+jsonSecretID, "COMPLYCUBE_BASE_URL=https://"+cc,
		"ALLOWED_ORIGINS="+origin,
	)
	env = append(env, f.dep.env(withRTT)...)
	return append(env, v.env...)
}

var event = func() []byte {
	body := `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_bench","successUrl":"https://shop.example.com/ok","cancelUrl":"https://shop.example.com/no"}`
	ev := map[string]any{
		"version": "2.0", "routeKey": "POST /sessions", "rawPath": "/sessions", "body": body, "isBase64Encoded": false,
		"headers":        map[string]string{"origin": origin, "content-type": "application/json", "host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "Mozilla/5.0"},
		"requestContext": map[string]any{"http": map[string]string{"method": "POST", "path": "/sessions", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"}, "requestId": "bench"},
	}
	b, _ := json.Marshal(ev)
	return b
}()

var status200 = regexp.MustCompile(`"statusCode":\s*200`)

// coldStart starts an emulator for v, invokes it once, and returns the INIT
// REPORT duration and the time from the invoke to the answer (the function's
// process start, init and first request), at the machine's full CPU, with
// what it did with the deployed services.
func coldStart(rie string, f *fakes, v *variant, env []string) (coldRun, error) {
	return coldStartIn(rie, nil, f, v, shape{}, env)
}

// tlsHandshakes returns the median time of n fresh TLS handshakes with srv
// (new connection, no session to resume), as the function's first call to
// Secrets Manager makes one.
func tlsHandshakes(srv *httptest.Server, n int) (time.Duration, error) {
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	var d []time.Duration
	for range n {
		start := time.Now()
		conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com"})
		if err != nil {
			return 0, fmt.Errorf("TLS handshake with the fake Secrets Manager: %w", err)
		}
		d = append(d, time.Since(start))
		conn.Close()
	}
	return median(d), nil
}

// warmMemory sends n1 then n2 (in all) sequential requests to one instance
// and reads the function's peak resident memory after each.
func warmMemory(rie string, v *variant, env []string, n1, n2 int) (hwm1, hwm2 int, med time.Duration, err error) {
	emu, err := lambdaemu.Start(rie, v.bootstrap, env)
	if err != nil {
		return 0, 0, 0, err
	}
	defer emu.Stop()
	var lat []time.Duration
	invoke := func() error {
		start := time.Now()
		out, err := emu.Invoke(context.Background(), v.nextEvent())
		lat = append(lat, time.Since(start))
		if err != nil {
			return err
		}
		if !status200.Match(out) {
			return fmt.Errorf("answer %s", out)
		}
		return nil
	}
	if err := invoke(); err != nil { // the cold start, not counted
		return 0, 0, 0, err
	}
	lat = lat[:0]
	pid, err := emu.FunctionPID("bootstrap")
	if err != nil {
		return 0, 0, 0, err
	}
	for i := 0; i < n2; i++ {
		if err := invoke(); err != nil {
			return 0, 0, 0, err
		}
		if i+1 == n1 {
			if hwm1, err = lambdaemu.ProcStatusKB(pid, "VmHWM"); err != nil {
				return 0, 0, 0, err
			}
			med = median(lat)
		}
	}
	hwm2, err = lambdaemu.ProcStatusKB(pid, "VmHWM")
	return hwm1, hwm2, med, err
}

type benchResult struct {
	ns     float64
	allocs int
}

func (b benchResult) us() float64 { return b.ns / 1000 }

var benchLine = regexp.MustCompile(`^Benchmark(\w+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+[\d.]+ B/op\s+(\d+) allocs/op`)

// goBench runs the handler's benchmarks with one CPU, so the function and
// the fake share it as they would a Lambda's fraction of a core, and
// returns the median of each.
func goBench(count int) (map[string]benchResult, error) {
	root, err := lambdaemu.ModuleRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^Benchmark(WarmRequest|BarePost|HandlerOnly)$", "-benchmem", "-cpu", "1", "-count", strconv.Itoa(count), "./handler")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	ns := map[string][]float64{}
	allocs := map[string]int{}
	for _, l := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		ns[m[1]] = append(ns[m[1]], v)
		allocs[m[1]], _ = strconv.Atoi(m[3])
	}
	res := map[string]benchResult{}
	for _, name := range []string{"WarmRequest", "BarePost", "HandlerOnly"} {
		if len(ns[name]) == 0 {
			return nil, fmt.Errorf("no result for Benchmark%s in:\n%s", name, out)
		}
		slices.Sort(ns[name])
		res[name] = benchResult{ns[name][len(ns[name])/2], allocs[name]}
	}
	return res, nil
}

// buildARM64 builds the template's function logicalID exactly as sam build
// does for Lambda's arm64: the Makefile's target with only ARTIFACTS_DIR
// set.
func buildARM64(work, logicalID string) (string, error) {
	return lambdaemu.BuildAsSAM(logicalID, filepath.Join(work, "arm64-"+logicalID))
}

// sizes returns the binary's size and that of a deployment zip of it.
func sizes(bin string) (binSize, zipSize int64, err error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, 0, err
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return int64(len(data)), int64(buf.Len()), nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianOf is the median of one figure of runs.
func medianOf(runs []coldRun, fig func(coldRun) time.Duration) time.Duration {
	d := make([]time.Duration, len(runs))
	for i, r := range runs {
		d[i] = fig(r)
	}
	return median(d)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func mb(n int64) float64 { return float64(n) / 1e6 }

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}
