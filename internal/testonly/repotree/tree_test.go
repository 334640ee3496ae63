// Package repotree checks what git tracks: source, not build outputs.
package repotree

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedBytes is the largest file the repository may hold: a built
// program or a captured data set is larger, and every clone pays for it.
const maxTrackedBytes = 1 << 20

// objectMagic are the first bytes of the program formats Go can build.
var objectMagic = map[string][]byte{
	"ELF":     {0x7f, 'E', 'L', 'F'},
	"Mach-O":  {0xcf, 0xfa, 0xed, 0xfe},
	"Mach-O ": {0xfe, 0xed, 0xfa, 0xcf},
	"PE":      {'M', 'Z'},
	"wasm":    {0x00, 'a', 's', 'm'},
}

// TestNoBuildOutputsTracked fails when git tracks a built program (by its
// first bytes, whatever its name), an executable file that is not a
// script, or any file over 1 MiB.
func TestNoBuildOutputsTracked(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-s", "-z").Output()
	if err != nil {
		skipOutsideCI(t, "git ls-files: "+err.Error())
	}
	entries := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(entries) < 10 {
		t.Fatalf("git ls-files listed %d files; expected the whole tree", len(entries))
	}
	for _, e := range entries {
		// "<mode> <object> <stage>\t<path>"
		meta, path, ok := strings.Cut(e, "\t")
		if !ok {
			t.Fatalf("unexpected ls-files line %q", e)
		}
		mode := strings.Fields(meta)[0]
		if problem := checkTracked(filepath.Join(root, path), mode); problem != "" {
			t.Errorf("%s: %s", path, problem)
		}
	}
}

// checkTracked says what is wrong with a tracked file, or "".
func checkTracked(path, mode string) string {
	info, err := os.Lstat(path)
	if err != nil {
		// Deleted in the work tree but still in the index: judge the index.
		return ""
	}
	if info.Size() > maxTrackedBytes {
		return "is over 1 MiB; keep large or generated files out of git"
	}
	if !info.Mode().IsRegular() {
		return ""
	}
	head := make([]byte, 4)
	f, err := os.Open(path)
	if err != nil {
		return "cannot be read: " + err.Error()
	}
	n, _ := f.Read(head)
	f.Close()
	head = head[:n]
	for format, magic := range objectMagic {
		if bytes.HasPrefix(head, magic) {
			return "is a built program (" + strings.TrimSpace(format) + "); build outputs are never tracked"
		}
	}
	if mode == "100755" && !bytes.HasPrefix(head, []byte("#!")) {
		return "is executable and not a script; build outputs are never tracked"
	}
	return ""
}

func TestCheckTrackedCatchesBuildOutputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, mode string
		data       []byte
		bad        bool
	}{
		{"elf", "100644", append([]byte{0x7f, 'E', 'L', 'F'}, make([]byte, 100)...), true},
		{"pe.exe", "100644", []byte("MZ\x90\x00rest"), true},
		{"macho", "100644", []byte{0xcf, 0xfa, 0xed, 0xfe, 1}, true},
		{"big.json", "100644", bytes.Repeat([]byte("x"), maxTrackedBytes+1), true},
		{"binary-with-x-bit", "100755", []byte("\x01\x02\x03\x04"), true},
		{"run", "100755", []byte("#!/usr/bin/env bash\necho hi\n"), false},
		{"main.go", "100644", []byte("package main\n"), false},
		{"exactly-1MiB.txt", "100644", bytes.Repeat([]byte("x"), maxTrackedBytes), false},
	}
	for _, c := range cases {
		got := checkTracked(write(c.name, c.data), c.mode)
		if (got != "") != c.bad {
			t.Errorf("%s: checkTracked = %q, want a problem: %v", c.name, got, c.bad)
		}
	}
}

// TestBuiltProgramsAreIgnored: what `go build ./cmd/X` writes at the root
// is ignored by git, so that `git add .` cannot pick it up.
func TestBuiltProgramsAreIgnored(t *testing.T) {
	root := repoRoot(t)
	cmds, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if !c.IsDir() {
			continue
		}
		for _, name := range []string{c.Name(), "bootstrap", filepath.Join(".aws-sam", "build", "bootstrap")} {
			if err := exec.Command("git", "-C", root, "check-ignore", "-q", "--no-index", name).Run(); err != nil {
				t.Errorf("git does not ignore %s (a built program): add it to .gitignore", name)
			}
		}
	}
	// And a source folder of the same name stays visible.
	if err := exec.Command("git", "-C", root, "check-ignore", "-q", "--no-index", "handler/webhook/webhook.go").Run(); err == nil {
		t.Errorf(".gitignore hides handler/webhook/webhook.go: anchor program names at the root")
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		skipOutsideCI(t, "git rev-parse: "+err.Error())
	}
	return strings.TrimSpace(string(out))
}

// skipOutsideCI skips where the tree is not a git checkout (a source
// archive), but CI always runs in a clone: there it fails.
func skipOutsideCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why + " (not a git checkout?)")
}
