package main

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Lambda's shape, reproduced for the function's process alone (not the
// emulator's, not the fakes'):
//
//   - its CPU share: a cgroup-v1 cpu quota, memory/1769 of one CPU
//     (AWS's resource model: 1,769 MB is one vCPU), over a 20 ms period;
//   - Amazon Linux 2023's trusted roots: the bundle at
//     /etc/pki/tls/certs/ca-bundle.crt, each root again as its own PEM file
//     (with two hash links each) in /etc/ssl/certs, ca-bundle.trust.crt
//     beside the bundle, and no Debian bundle, bind-mounted over /etc in a
//     private mount namespace of the bench's own making. The machine's own
//     /etc is never changed.
//
// The emulator starts the bootstrap it is given; the bench gives it a
// small shell script that makes the namespace, joins the cgroup and then
// execs the real bootstrap, all in one process (unshare without --fork),
// so the emulator's child is the function itself.

// cpuPeriod is the cgroup's CFS period. AWS does not publish Lambda's; 20 ms
// with the 128 MB quota (1,448 µs) puts the hello-world init in the
// published range (the bench prints how near).
const cpuPeriod = 20 * time.Millisecond

// oneVCPUMB is the memory size that gets one full vCPU.
const oneVCPUMB = 1769

const cgroupRoot = "/sys/fs/cgroup/cpu"

// shape is how a cold start is run.
type shape struct {
	memMB  int  // 0: the machine's full CPU
	al2023 bool // Amazon Linux 2023's trust store
}

func (s shape) String() string {
	cpu := "full CPU"
	if s.memMB > 0 {
		cpu = fmt.Sprintf("%d MB share", s.memMB)
	}
	if s.al2023 {
		return cpu + ", AL2023 roots"
	}
	return cpu
}

// lambdaShapes makes the cgroups and the AL2023 /etc, and wraps bootstraps.
type lambdaShapes struct {
	work    string
	etc     string // the AL2023-shaped /etc, "" until made
	cgroups map[int]string
}

// checkShapes reports why this machine cannot run the CPU-share or the
// AL2023 mode ("" when it can).
func checkShapes() (cpuReason, al2023Reason string) {
	if os.Geteuid() != 0 {
		return "not root: no cgroup can be made", "not root: no mount namespace can be made"
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cpu.cfs_quota_us")); err != nil {
		cpuReason = "no cgroup-v1 cpu controller at " + cgroupRoot
	}
	if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
		al2023Reason = fmt.Sprintf("unshare --mount fails here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	return cpuReason, al2023Reason
}

// cgroup returns the cgroup for memMB, made on first use.
func (l *lambdaShapes) cgroup(memMB int) (string, error) {
	if dir, ok := l.cgroups[memMB]; ok {
		return dir, nil
	}
	dir := filepath.Join(cgroupRoot, fmt.Sprintf("createsession-bench-%d-%dmb", os.Getpid(), memMB))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("make cgroup: %w", err)
	}
	period := cpuPeriod.Microseconds()
	quota := period * int64(memMB) / oneVCPUMB
	if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.FormatInt(period, 10)), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.FormatInt(quota, 10)), 0o644); err != nil {
		return "", err
	}
	l.cgroups[memMB] = dir
	return dir, nil
}

// close removes the cgroups (once their processes have gone).
func (l *lambdaShapes) close() {
	for _, dir := range l.cgroups {
		for i := 0; i < 50; i++ {
			if os.Remove(dir) == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// al2023Etc makes an /etc with Amazon Linux 2023's layout of trusted roots:
// the machine's Mozilla roots plus extra (the fakes' test CA), and the few
// files a Go program reads from /etc.
func (l *lambdaShapes) al2023Etc(extra []byte) (string, error) {
	if l.etc != "" {
		return l.etc, nil
	}
	etc := filepath.Join(l.work, "al2023-etc")
	ssl, pki := filepath.Join(etc, "ssl", "certs"), filepath.Join(etc, "pki", "tls", "certs")
	for _, d := range []string{ssl, pki} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	for _, f := range []string{"hosts", "resolv.conf", "nsswitch.conf", "localtime"} {
		if data, err := os.ReadFile(filepath.Join("/etc", f)); err == nil {
			os.WriteFile(filepath.Join(etc, f), data, 0o644)
		}
	}
	roots, err := filepath.Glob("/usr/share/ca-certificates/mozilla/*.crt")
	if err != nil || len(roots) == 0 {
		return "", fmt.Errorf("no Mozilla roots under /usr/share/ca-certificates to lay out as AL2023 does")
	}
	var bundle, trust []byte
	add := func(name string, data []byte, i int) error {
		block, _ := pem.Decode(data)
		if block == nil {
			return fmt.Errorf("%s is not PEM", name)
		}
		pemFile := filepath.Join(ssl, name+".pem")
		if err := os.WriteFile(pemFile, data, 0o644); err != nil {
			return err
		}
		// Two hash links each, as AL2023 has; Go skips links within the folder.
		os.Symlink(name+".pem", filepath.Join(ssl, fmt.Sprintf("%08x.0", i)))
		os.Symlink(name+".pem", filepath.Join(ssl, fmt.Sprintf("%08x.1", i)))
		bundle = append(bundle, data...)
		trust = append(trust, pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: block.Bytes})...)
		return nil
	}
	for i, r := range roots {
		data, err := os.ReadFile(r)
		if err != nil {
			return "", err
		}
		if err := add(strings.TrimSuffix(filepath.Base(r), ".crt"), data, i); err != nil {
			return "", err
		}
	}
	if err := add("bench-test-ca", extra, len(roots)); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(pki, "ca-bundle.crt"), bundle, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(pki, "ca-bundle.trust.crt"), trust, 0o644); err != nil {
		return "", err
	}
	l.etc = etc
	return etc, nil
}

// wrap returns the path of a bootstrap that runs real in shape s. real
// must be named bootstrap, so that the process keeps that name.
func (l *lambdaShapes) wrap(real string, s shape, extraCA []byte) (string, error) {
	if s.memMB == 0 && !s.al2023 {
		return real, nil // l may be nil then
	}
	procs := "/dev/null"
	if s.memMB > 0 {
		dir, err := l.cgroup(s.memMB)
		if err != nil {
			return "", err
		}
		procs = filepath.Join(dir, "cgroup.procs")
	}
	// Before it execs the function, the shell notes its own CPU time so far
	// (the wrapper's, at full speed) beside the bootstrap, to be taken off.
	inner := `read t _ < /proc/$$/schedstat; echo $t > "$3.wrapper-cpu"; echo $$ > "$2" && exec "$3"`
	script := "#!/bin/sh\n# made by the bench: run the function in Lambda's shape (" + s.String() + ")\n"
	// When the process started, as the emulator's INIT REPORT counts from
	// it (the file's modification time; a shell builtin, no process).
	script += fmt.Sprintf(": > %q\n", real+".wrapper-start")
	if s.al2023 {
		etc, err := l.al2023Etc(extraCA)
		if err != nil {
			return "", err
		}
		script += fmt.Sprintf("exec unshare --mount --propagation private /bin/sh -c 'mount --bind \"$1\" /etc && %s' sh %q %q %q\n", inner, etc, procs, real)
	} else {
		script += fmt.Sprintf("exec /bin/sh -c '%s' sh '' %q %q\n", inner, procs, real)
	}
	dir := filepath.Join(l.work, "wrap", fmt.Sprintf("%s-%d-%v", filepath.Base(filepath.Dir(real)), s.memMB, s.al2023))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "bootstrap")
	return path, os.WriteFile(path, []byte(script), 0o755)
}

// functionCPU is the CPU time the function's process has used since the
// wrapper exec'd it: cpuTime less what the wrapper noted for itself.
func functionCPU(pid int, real string) (time.Duration, error) {
	total, err := cpuTime(pid)
	if err != nil {
		return 0, err
	}
	if data, err := os.ReadFile(real + ".wrapper-cpu"); err == nil {
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		total -= time.Duration(ns)
	}
	return total, nil
}

// procStart is when the wrapper, the process the emulator started, began:
// the moment INIT REPORT's duration counts from (the modification time of
// the file it writes first, to the nanosecond on tmpfs and ext4). ok is
// false for a bootstrap run without a wrapper.
func procStart(real string, s shape) (at time.Time, ok bool) {
	if s.memMB == 0 && !s.al2023 {
		return time.Time{}, false
	}
	st, err := os.Stat(real + ".wrapper-start")
	if err != nil {
		return time.Time{}, false
	}
	return st.ModTime(), true
}

// cpuTime is the CPU time a process's threads have used so far
// (/proc/PID/task/*/schedstat, the first field: time on a CPU, in ns).
func cpuTime(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no schedstat for process %d", pid)
	}
	var total time.Duration
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that just exited
		}
		fields := strings.Fields(string(data))
		if len(fields) == 0 {
			continue
		}
		ns, _ := strconv.ParseInt(fields[0], 10, 64)
		total += time.Duration(ns)
	}
	return total, nil
}
