package dynalite

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The pinned package, embedded so that Start works from any package's test
// (a test runs in its own package's folder, not this one).
var (
	//go:embed testdata/package.json
	packageJSON []byte
	//go:embed testdata/package-lock.json
	packageLock []byte
)

// installTimeout bounds npm ci: a registry that does not answer must fail
// the test, not hang it until go test's own timeout.
const installTimeout = 5 * time.Minute

// minNodeMajor is what dynalite 4 needs (its package.json's engines).
const minNodeMajor = 20

// unavailable ends the test when a tool it needs is missing: a skip on a
// developer's machine, a failure in CI, where the tools must be there.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// checkTools skips (or fails, in CI) when node or npm is missing or node is
// too old for dynalite.
func checkTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "%s is not installed; this test runs dynalite, a DynamoDB stand-in on Node.js", tool)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		unavailable(t, "node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil || major < minNodeMajor {
		unavailable(t, "node %s is installed; dynalite needs Node %d or later", v, minNodeMajor)
	}
}

// install returns a folder whose node_modules holds the pinned dynalite,
// installing it on first use. The folder is shared by every test package
// and every run (it is keyed by what is pinned, so a new pin is a new
// folder); go test runs packages in parallel, so installing takes a file
// lock, and an install is built in a temporary folder and renamed into
// place, so a folder that exists is complete even if an earlier npm ci was
// killed half-way.
func install(t testing.TB) string {
	t.Helper()
	sum := sha256.New()
	sum.Write(packageJSON)
	sum.Write(packageLock)
	hash := hex.EncodeToString(sum.Sum(nil))[:24]

	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir() // no home folder (some CI containers)
	}
	root := filepath.Join(base, "createsession-dynalite")
	dir := filepath.Join(root, hash)
	if installed(dir) {
		return dir
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockFile(filepath.Join(root, hash+".lock"))
	if err != nil {
		t.Fatalf("lock the dynalite install folder: %v", err)
	}
	defer unlock()
	if installed(dir) { // another package installed it while we waited
		return dir
	}

	// Holding the lock, nobody else is installing this pin: whatever is
	// left of earlier attempts is garbage.
	old, _ := filepath.Glob(filepath.Join(root, hash+".tmp-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	os.RemoveAll(dir)
	tmp, err := os.MkdirTemp(root, hash+".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for name, data := range map[string][]byte{"package.json": packageJSON, "package-lock.json": packageLock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	// --ignore-scripts: nothing from the registry runs at install time;
	// dynalite and its dependencies are plain JavaScript.
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		unavailable(t, "npm ci could not install dynalite (no registry?): %v\n%s", err, out)
	}
	if !installed(tmp) {
		t.Fatalf("npm ci succeeded but %s is missing", entry(tmp))
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatalf("move the dynalite install into place: %v", err)
	}
	return dir
}

// entry is the module that Start loads from an install folder.
func entry(dir string) string {
	return filepath.Join(dir, "node_modules", "dynalite", "index.js")
}

func installed(dir string) bool {
	_, err := os.Stat(entry(dir))
	return err == nil
}
