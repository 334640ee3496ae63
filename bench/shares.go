package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

// Lambda's arm64 prices (us-east-1, 2026): per GB-second of duration
// (init included for provided.al2023) and per request.
const (
	pricePerGBSecond = 0.0000133334
	pricePerRequest  = 0.20 / 1e6
)

// The published init of the smallest aws-lambda-go function on arm64, at
// every memory size (LAMBDA.md), that the 128 MB share is calibrated on.
const (
	publishedHelloInitLow  = 41 * time.Millisecond
	publishedHelloInitHigh = 50 * time.Millisecond
)

// sizeResult is one variant at one memory size.
type sizeResult struct {
	init, first, cpu time.Duration // medians of the cold starts
	warm             time.Duration // median of spaced warm requests
	runs             []coldRun     // the cold starts
}

// sizeRow is one memory size of the table.
type sizeRow struct {
	memMB   int
	results map[string]sizeResult // by variant name
	floor   time.Duration         // createsession's: hello's first answer + 4 round trips
}

// coldRun is one cold start: the INIT REPORT duration, the time from the
// invoke to the answer, the function's CPU time from exec to that answer,
// and what it did with the deployed services.
type coldRun struct {
	init, first, cpu time.Duration
	use              use
}

func summarize(runs []coldRun, warm time.Duration) sizeResult {
	return sizeResult{
		init:  medianOf(runs, func(r coldRun) time.Duration { return r.init }),
		first: medianOf(runs, func(r coldRun) time.Duration { return r.first }),
		cpu:   medianOf(runs, func(r coldRun) time.Duration { return r.cpu }),
		warm:  warm, runs: runs,
	}
}

// coldStartIn is a cold start of v in a Lambda shape (shape{} for the
// machine as it is).
func coldStartIn(rie string, l *lambdaShapes, f *fakes, v *variant, s shape, env []string) (coldRun, error) {
	bootstrap, err := l.wrap(v.bootstrap, s, f.caPEM())
	if err != nil {
		return coldRun{}, err
	}
	from := time.Now()
	emu, err := lambdaemu.Start(rie, bootstrap, env)
	if err != nil {
		return coldRun{}, err
	}
	defer emu.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev := v.nextEvent()
	start := time.Now()
	out, err := emu.Invoke(ctx, ev)
	first := time.Since(start)
	if err != nil {
		return coldRun{}, fmt.Errorf("%w\n%s", err, emu.Output())
	}
	if !status200.Match(out) {
		return coldRun{}, fmt.Errorf("answer %s\n%s", out, emu.Output())
	}
	// Connections are timed from the process's start when the wrapper
	// noted it (INIT REPORT counts from there), else from the invoke
	// (earlier still, so "within init" is then a stricter test).
	ref, fromExec := procStart(v.bootstrap, s)
	if !fromExec {
		ref = start
	}
	u := f.dep.usage(from, ref)
	u.fromExec = fromExec
	pid, err := emu.FunctionPID("bootstrap")
	if err != nil {
		return coldRun{}, err
	}
	cpu, err := functionCPU(pid, v.bootstrap)
	if err != nil {
		return coldRun{}, err
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if d, ok := emu.InitDuration(); ok {
			return coldRun{init: d, first: first, cpu: cpu, use: u}, nil
		}
	}
	return coldRun{}, fmt.Errorf("no INIT REPORT line")
}

// warmSpaced sends n requests gap apart to one instance, after its cold
// start, as a quiet site does, and returns their median latency.
func warmSpaced(rie string, l *lambdaShapes, f *fakes, v *variant, s shape, env []string, n int, gap time.Duration) (time.Duration, error) {
	bootstrap, err := l.wrap(v.bootstrap, s, f.caPEM())
	if err != nil {
		return 0, err
	}
	emu, err := lambdaemu.Start(rie, bootstrap, env)
	if err != nil {
		return 0, err
	}
	defer emu.Stop()
	var lat []time.Duration
	for i := 0; i <= n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		ev := v.nextEvent()
		start := time.Now()
		out, err := emu.Invoke(ctx, ev)
		d := time.Since(start)
		cancel()
		if err != nil {
			return 0, err
		}
		if !status200.Match(out) {
			return 0, fmt.Errorf("answer %s", out)
		}
		if i > 0 { // the first is the cold start
			lat = append(lat, d)
		}
		time.Sleep(gap)
	}
	return median(lat), nil
}

// al2023Env is a variant's environment in the AL2023 mode: the machine's
// trust store settings removed (the function finds AL2023's at the default
// paths), and, for the functions as deployed, the template's own
// SSL_CERT_FILE, SSL_CERT_DIR and GOMAXPROCS, then the variant's own
// variables.
func (f *fakes) al2023Env(v *variant) []string {
	var env []string
	for _, kv := range f.env(v, true) {
		if !strings.HasPrefix(kv, "SSL_CERT_") {
			env = append(env, kv)
		}
	}
	if v.asTemplate {
		env = append(env, lambdaemu.TemplateRuntimeEnv...)
		env = append(env, templateExtraEnv...)
	}
	return append(env, v.env...)
}

// templateExtraEnv is more of the template's environment, for trials
// (-template-env).
var templateExtraEnv []string

// memorySizes measures every variant at every memory size (the deployed
// functions at -fn-sizes only), in the AL2023 mode with the round trips.
func memorySizes(o options, rie string, l *lambdaShapes, variants []*variant, f *fakes, progress io.Writer) ([]sizeRow, error) {
	var rows []sizeRow
	for _, mem := range o.sizes {
		s := shape{memMB: mem, al2023: true}
		row := sizeRow{memMB: mem, results: map[string]sizeResult{}}
		var vs []*variant
		for _, v := range variants {
			if !v.deployed || slices.Contains(o.fnSizes, mem) {
				vs = append(vs, v)
			}
		}
		runs := map[string][]coldRun{}
		for i := 0; i < o.coldShare; i++ {
			for _, v := range shuffled(vs) {
				r, err := coldStartIn(rie, l, f, v, s, f.al2023Env(v))
				if err != nil {
					return nil, fmt.Errorf("%s cold start (%s): %w", v.name, s, err)
				}
				runs[v.name] = append(runs[v.name], r)
			}
		}
		for _, v := range vs {
			warm, err := warmSpaced(rie, l, f, v, s, f.al2023Env(v), o.warmShare, o.warmGap)
			if err != nil {
				return nil, fmt.Errorf("%s warm requests (%s): %w", v.name, s, err)
			}
			row.results[v.name] = summarize(runs[v.name], warm)
		}
		add, _, _ := o.rtts().floorRTT("createsession")
		row.floor = row.results["hello-world"].first + add
		rows = append(rows, row)
		fmt.Fprintf(progress, "bench: %d MB done\n", mem)
	}
	return rows, nil
}

// costPer1000 is what 1,000 sessions cost at memMB when each takes d of
// billed time (init included, as for every provided.al2023 cold start).
func costPer1000(memMB int, d time.Duration) float64 {
	return 1000 * (float64(memMB)/1024*d.Seconds()*pricePerGBSecond + pricePerRequest)
}

// printSizes writes the memory-size table, in the style of AWS Lambda
// Power Tuning, and the targets judged on it.
func printSizes(out io.Writer, o options, rows []sizeRow, before128 sizeResult, verdict func(bool) string) {
	fmt.Fprintf(out, "\n### By memory size: the function's process in a cgroup CPU share (memory/1769 of a CPU, %v period), Amazon Linux 2023's trust store, %v round trips\n\n", cpuPeriod, o.rtt)
	fmt.Fprintf(out, "medians of %d cold starts per variant and size; warm: median of %d requests %v apart on one instance; cost: 1,000 sessions at arm64 prices ($%.10f per GB-s, $0.20 per million requests), each session one cold start (a quiet site) or one warm request, billed for the time measured here (the simulator answers at once: ComplyCube's own processing time is not counted; the network round trips are)\n\n", o.coldShare, o.warmShare, o.warmGap, pricePerGBSecond)
	fmt.Fprintf(out, "| memory | variant | init | first answer (cold) | CPU time, exec to first answer | warm answer | 1,000 cold sessions | 1,000 warm sessions |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		for _, name := range coreNames {
			res := r.results[name]
			fmt.Fprintf(out, "| %d MB | %s | %s | %s | %s | %s | $%.4f | $%.4f |\n", r.memMB, name, ms(res.init), ms(res.first), ms(res.cpu), ms(res.warm), costPer1000(r.memMB, res.first), costPer1000(r.memMB, res.warm))
		}
	}
	fmt.Fprintf(out, "\n| memory | createsession first answer / floor | / baseline | createsession CPU / hello-world CPU | targets |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		ours, base, hello := r.results["createsession"], r.results["baseline"], r.results["hello-world"]
		target := fmt.Sprintf("below baseline: %s", verdict(ours.first < base.first))
		if r.memMB == 128 {
			target = fmt.Sprintf("<= 1.2x floor: %s; CPU <= 2x hello: %s; %s", verdict(ratio(ours.first, r.floor) <= 1.2), verdict(ratio(ours.cpu, hello.cpu) <= 2), target)
		}
		fmt.Fprintf(out, "| %d MB | %.2fx (floor %s) | %.2fx | %.2fx | %s |\n", r.memMB, ratio(ours.first, r.floor), ms(r.floor), ratio(ours.first, base.first), ratio(ours.cpu, hello.cpu), target)
	}
	for _, r := range rows {
		if r.memMB != 128 {
			continue
		}
		h := r.results["hello-world"].init
		near := "inside"
		if h < publishedHelloInitLow || h > publishedHelloInitHigh {
			near = fmt.Sprintf("outside, %.2fx the middle of", ratio(h, (publishedHelloInitLow+publishedHelloInitHigh)/2))
		}
		fmt.Fprintf(out, "\ncalibration: hello-world init at the 128 MB share %s, %s the published %s to %s (arm64 and x86_64, every memory size)\n", ms(h), near, ms(publishedHelloInitLow), ms(publishedHelloInitHigh))
		if before128.first > 0 {
			fmt.Fprintf(out, "createsession at 128 MB without the template's SSL_CERT_FILE/SSL_CERT_DIR (Go's default root loading on AL2023): init %s, first answer %s, CPU %s; with them: init %s, first answer %s, CPU %s\n",
				ms(before128.init), ms(before128.first), ms(before128.cpu), ms(r.results["createsession"].init), ms(r.results["createsession"].first), ms(r.results["createsession"].cpu))
		}
	}
}

// printDeployedSizes writes the functions as deployed at the -fn-sizes
// shares, each against its own floor, what their cold starts did with
// their connections, and what DynamoDB adds to their cost.
func printDeployedSizes(out io.Writer, o options, variants []*variant, rows []sizeRow, verdict func(bool) string) {
	var fnRows []sizeRow
	for _, r := range rows {
		if slices.Contains(o.fnSizes, r.memMB) {
			fnRows = append(fnRows, r)
		}
	}
	if len(fnRows) == 0 {
		return
	}
	rt := o.rtts()
	fmt.Fprintf(out, "\n### The functions as deployed, by memory size: CPU share, AL2023 roots, the template's environment, round trips %v to ComplyCube and Turnstile, %v to Secrets Manager and SNS, %v to DynamoDB\n\n", rt.cc, rt.sm, rt.db)
	fmt.Fprintf(out, "medians of %d cold starts per function and size; floor = hello-world's first answer at the same size + the round trips that cannot overlap (below); warm: median of %d requests %v apart\n\n", o.coldShare, o.warmShare, o.warmGap)
	fmt.Fprintf(out, "| memory | function | init | first answer (cold) | floor | / floor | CPU time, exec to first answer | / hello-world CPU | warm answer | 1,000 cold | 1,000 warm | target |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range fnRows {
		hello := r.results["hello-world"]
		fmt.Fprintf(out, "| %d MB | hello-world | %s | %s | | | %s | 1.00x | %s | $%.4f | $%.4f | |\n", r.memMB, ms(hello.init), ms(hello.first), ms(hello.cpu), ms(hello.warm), costPer1000(r.memMB, hello.first), costPer1000(r.memMB, hello.warm))
		for _, name := range deployedNames {
			res, ok := r.results[name]
			if !ok {
				continue
			}
			add, _, _ := rt.floorRTT(name)
			fl := hello.first + add
			fmt.Fprintf(out, "| %d MB | %s | %s | %s | %s | %.2fx | %s | %.2fx | %s | $%.4f | $%.4f | <= 1.2x floor: %s |\n", r.memMB, byName(variants, name).label,
				ms(res.init), ms(res.first), ms(fl), ratio(res.first, fl), ms(res.cpu), ratio(res.cpu, hello.cpu), ms(res.warm),
				costPer1000(r.memMB, res.first), costPer1000(r.memMB, res.warm), verdict(ratio(res.first, fl) <= 1.2))
		}
	}
	fmt.Fprintf(out, "\nfloors (round trips after hello-world's first answer):\n")
	for _, name := range deployedNames {
		add, how, _ := rt.floorRTT(name)
		fmt.Fprintf(out, "- %s: %s = %s\n", byName(variants, name).label, how, ms(add))
	}
	for _, r := range fnRows {
		fmt.Fprintf(out, "\nconnections during the cold starts at %d MB:\n", r.memMB)
		printConnections(out, variants, func(name string) []coldRun { return r.results[name].runs })
		printTableCost(out, fmt.Sprintf("%d MB", r.memMB), r.results["createsession"].runs, r.results["createsession-notable"].runs)
		printRootsSaving(out, fmt.Sprintf("%d MB", r.memMB), r.results["createsession"].runs, r.results["createsession-goroots"].runs)
		if o.against != "" {
			for _, name := range []string{"createsession", "signup"} {
				before, after := r.results[name+"@"+o.against], r.results[name]
				add, _, _ := rt.floorRTT(name)
				fl := r.results["hello-world"].first + add
				printSameRun(out, "the working tree against "+o.against+", "+byName(variants, name).label, fmt.Sprintf("%d MB", r.memMB),
					before.runs, after.runs, fmt.Sprintf("%s → the working tree; first answer / floor %.2fx → %.2fx", o.against, ratio(before.first, fl), ratio(after.first, fl)))
			}
		}
	}

	// What DynamoDB adds: each first request's calls, counted on the fake.
	last := fnRows[len(fnRows)-1]
	for _, r := range fnRows {
		if r.memMB == 256 {
			last = r
		}
	}
	fmt.Fprintf(out, "\nDynamoDB per request, counted on the fake in the first request of each cold start at %d MB (on demand: $0.625 per million writes, $0.125 per million reads; each item under 1 KB, each read strongly consistent: one unit each):\n\n", last.memMB)
	fmt.Fprintf(out, "| function | calls | writes | reads | DynamoDB per 1,000 requests | Lambda per 1,000 warm requests at %d MB |\n|---|---|---|---|---|---|\n", last.memMB)
	perReq := map[string]float64{}
	for _, name := range deployedNames {
		res, ok := last.results[name]
		if !ok {
			continue
		}
		ops := typicalOps(res.runs)
		w, rd, c := dynamoCost(ops)
		perReq[name] = c / 1000
		fmt.Fprintf(out, "| %s | %s | %d | %d | $%.4f | $%.4f |\n", byName(variants, name).label, opsString(ops), w, rd, c, costPer1000(last.memMB, res.warm))
	}
	sess, hook, poll := perReq["signup"], perReq["webhook"], perReq["status"]
	dyn := 1000 * (sess + eventsPerVerification*hook + pollsPerVerification*poll)
	lam := costPer1000(last.memMB, last.results["status"].warm) * pollsPerVerification
	fmt.Fprintf(out, "\nper 1,000 verifications (a sign-up with the bot check, %d webhook events, %d status polls): DynamoDB $%.4f (sign-ups $%.4f, events $%.4f, polls $%.4f); the polls' Lambda requests and warm duration at %d MB $%.4f\n",
		eventsPerVerification, pollsPerVerification, dyn, 1000*sess, 1000*eventsPerVerification*hook, 1000*pollsPerVerification*poll, last.memMB, lam)
}

// writeSVG draws the first answer after a cold start by memory size for
// each variant, with the floor, as an SVG line chart.
func writeSVG(path string, rows []sizeRow) error {
	const w, h, left, right, top, bottom = 720, 400, 70, 170, 40, 50
	var maxMs float64
	for _, r := range rows {
		for _, name := range coreNames {
			maxMs = max(maxMs, float64(r.results[name].first)/1e6)
		}
	}
	maxMs = float64(int(maxMs/100)+1) * 100
	x := func(i int) float64 {
		if len(rows) == 1 {
			return left
		}
		return left + float64(i)*float64(w-left-right)/float64(len(rows)-1)
	}
	y := func(v time.Duration) float64 { return top + (1-float64(v)/1e6/maxMs)*float64(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">First answer after a cold start (ms), AL2023 roots, CPU share by memory size</text>`+"\n", left)
	for t := 0.0; t <= maxMs; t += maxMs / 5 {
		yy := y(time.Duration(t * 1e6))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left, w-right, yy, yy, left-6, yy+4, t)
	}
	for i, r := range rows {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d MB</text>`+"\n", x(i), h-bottom+18, r.memMB)
	}
	series := []struct{ name, color, dash string }{{"baseline", "#c0392b", ""}, {"createsession", "#1f4fd1", ""}, {"hello-world", "#7f8c8d", ""}, {"floor", "#27ae60", "6 4"}}
	for si, s := range series {
		var pts []string
		for i, r := range rows {
			v := r.results[s.name].first
			if s.name == "floor" {
				v = r.floor
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n", s.color, s.dash, strings.Join(pts, " "))
		label := s.name
		if s.name == "floor" {
			label = "floor (hello + 4 RTT)"
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%d" y="%d">%s</text>`+"\n", w-right+14, w-right+38, top+20*si+10, top+20*si+10, s.color, s.dash, w-right+44, top+20*si+14, label)
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
