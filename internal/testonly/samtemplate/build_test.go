package samtemplate

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// maxBootstrapBytes is the size a bootstrap must stay under: a smaller
// binary is a smaller zip and a faster cold start. 12 MiB since every
// function links the DynamoDB client for the shared state: measured on
// 2026-12-01, create-session 10.8 MB, webhook 11.0 MB, status 10.3 MB
// (create-session was 10.0 MB before the table).
const maxBootstrapBytes = 12 << 20

var buildTarget = regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):`)

// TestMakefileBuildsWhatLambdaRuns runs every build-<LogicalId> target of
// the Makefile as `sam build` does (make -f Makefile build-<ID>
// ARTIFACTS_DIR=<dir>, nothing else set) and checks the bootstrap it
// writes: linux/arm64, statically linked, stripped, built with
// lambda.norpc, CGO_ENABLED=0 and -trimpath, under 12 MiB. TestTemplate
// checks that every function of the template has such a target.
func TestMakefileBuildsWhatLambdaRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles every function; -short skips it")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH (sam build needs it too)")
	}
	root := repo(t)
	targets := buildTarget.FindAllStringSubmatch(string(read(t, "Makefile")), -1)
	if len(targets) == 0 {
		t.Fatal("the Makefile has no build-<LogicalId> target")
	}
	for _, m := range targets {
		id := m[1]
		t.Run(id, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("make", "-f", "Makefile", "build-"+id, "ARTIFACTS_DIR="+dir)
			cmd.Dir = root
			// As sam build runs it: the machine's environment, without any
			// GOARCH or CGO setting of the caller's.
			cmd.Env = withoutVars(os.Environ(), "GOARCH", "GOOS", "CGO_ENABLED", "GOFLAGS")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			summary, problems := bootstrapProblems(filepath.Join(dir, "bootstrap"))
			for _, p := range problems {
				t.Error(p)
			}
			t.Log(summary)
		})
	}
}

// TestBootstrapChecksCatchGo1xBuild: the bootstrap SAM's go1.x builder
// makes (plain go build with GOOS and GOARCH, nothing else) fails the
// checks above, so they can fail.
func TestBootstrapChecksCatchGo1xBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the function; -short skips it")
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/createsession")
	cmd.Dir = repo(t)
	cmd.Env = append(withoutVars(os.Environ(), "GOFLAGS"), "GOOS=linux", "GOARCH=arm64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	_, problems := bootstrapProblems(out)
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"symbol table", "lambda.norpc", "-trimpath"} {
		if !strings.Contains(joined, want) {
			t.Errorf("a go1.x-style build was not caught for %q; problems found:\n%s", want, joined)
		}
	}
}

// bootstrapProblems says what is wrong with the bootstrap at path for
// provided.al2023 on arm64, and sums it up in one line.
func bootstrapProblems(path string) (summary string, problems []string) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	st, err := os.Stat(path)
	if err != nil {
		return "", []string{"no bootstrap in ARTIFACTS_DIR: " + err.Error()}
	}
	if st.Size() >= maxBootstrapBytes {
		fail("bootstrap is %d bytes, want under %d", st.Size(), maxBootstrapBytes)
	}
	f, err := elf.Open(path)
	if err != nil {
		return "", append(problems, "not an ELF file: "+err.Error())
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		fail("ELF machine %v class %v OS/ABI %v, want linux/arm64", f.Machine, f.Class, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			fail("the bootstrap is dynamically linked (%v): Amazon Linux 2023 need not have the build machine's libraries", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		fail("the bootstrap needs shared libraries %v", libs)
	}
	// Go leaves -ldflags out of the build info under -trimpath, so the
	// stripping is read off the sections: no symbol table (-s), no DWARF (-w).
	if f.Section(".symtab") != nil {
		fail("the bootstrap has a symbol table: not stripped (-ldflags=-s)")
	}
	for _, sec := range f.Sections {
		if strings.HasPrefix(sec.Name, ".debug_") || strings.HasPrefix(sec.Name, ".zdebug_") {
			fail("the bootstrap has DWARF section %s: built without -ldflags=-w", sec.Name)
			break
		}
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", append(problems, "no Go build info: "+err.Error())
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true"}
	for k, v := range want {
		if settings[k] != v {
			fail("build setting %s = %q, want %q", k, settings[k], v)
		}
	}
	if !strings.Contains(","+settings["-tags"]+",", ",lambda.norpc,") {
		fail("build tags %q, want lambda.norpc among them", settings["-tags"])
	}
	summary = fmt.Sprintf("%.1f MB, %s %s/%s, tags %s", float64(st.Size())/1e6, info.GoVersion, settings["GOOS"], settings["GOARCH"], settings["-tags"])
	return summary, problems
}

func withoutVars(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if name == n {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
