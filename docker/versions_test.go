package docker

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The test runs in the docker/ directory; names in messages are relative to the repository root.
const repoRoot = ".."

// dockerfiles are the images this package keeps pinned.
var dockerfiles = []string{"docker/Dockerfile", "docker/Dockerfile.cuda"}

// extraScanned are other files of this directory in which `@latest` and module@version mentions
// are checked too.
var extraScanned = []string{"docker/README.md", "docker/lint.sh", "docker/cuda-wheels.txt"}

// pinnedArg says which go.mod owns the version an ARG of the Dockerfiles pins.
type pinnedArg struct {
	module string
	tools  bool // tools/go.mod (else the main go.mod)
}

var pinnedArgs = map[string]pinnedArg{
	"GONB_VERSION":   {module: "github.com/janpfeifer/gonb", tools: true},
	"XTOOLS_VERSION": {module: "golang.org/x/tools", tools: true},
	"GOPLS_VERSION":  {module: "golang.org/x/tools/gopls", tools: true},
	"GOMLX_VERSION":  {module: "github.com/gomlx/gomlx"},
	"GOXLA_VERSION":  {module: "github.com/gomlx/go-xla"},
}

// requiredArgs are the ARGs each Dockerfile must declare (they are checked against the built tools).
var requiredArgs = map[string][]string{
	"docker/Dockerfile":      {"GONB_VERSION", "XTOOLS_VERSION", "GOPLS_VERSION", "GOMLX_VERSION"},
	"docker/Dockerfile.cuda": {"GONB_VERSION", "XTOOLS_VERSION", "GOPLS_VERSION", "GOMLX_VERSION", "GOXLA_VERSION"},
}

// ---------------------------------------------------------------------------------------------
// go.mod reading (a small parser: the project's go.mod has no golang.org/x/mod).

type located struct {
	value string
	file  string // repository-relative
	line  int
}

func (l located) where() string { return fmt.Sprintf("%s:%d", l.file, l.line) }

type goMod struct {
	file      string
	goVersion located // `go 1.26.5`
	toolchain located // `toolchain go1.26.8`, value without "go"; empty if absent
	requires  map[string]located
}

func readGoMod(t *testing.T, rel string) *goMod {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	defer f.Close()
	m := &goMod{file: rel, requires: map[string]located{}}
	inRequire := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case inRequire && fields[0] == ")":
			inRequire = false
		case inRequire && len(fields) >= 2:
			m.requires[fields[0]] = located{fields[1], rel, n}
		case fields[0] == "require" && len(fields) == 2 && fields[1] == "(":
			inRequire = true
		case fields[0] == "require" && len(fields) >= 3:
			m.requires[fields[1]] = located{fields[2], rel, n}
		case fields[0] == "go" && len(fields) == 2:
			m.goVersion = located{fields[1], rel, n}
		case fields[0] == "toolchain" && len(fields) == 2:
			m.toolchain = located{strings.TrimPrefix(fields[1], "go"), rel, n}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if m.goVersion.value == "" {
		t.Fatalf("%s: no go directive", rel)
	}
	return m
}

// goVersion parses "1.26", "1.26.8" (a missing patch is 0).
func parseGoVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func compareGoVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// modules is what the Dockerfiles may pin: the main go.mod and the tools module(s).
type modules struct {
	main  *goMod
	tools []*goMod // tools/go.mod first, then any tools/*/go.mod
}

func loadModules(t *testing.T) *modules {
	t.Helper()
	ms := &modules{main: readGoMod(t, "go.mod")}
	ms.tools = append(ms.tools, readGoMod(t, "tools/go.mod"))
	more, _ := filepath.Glob(filepath.Join(repoRoot, "tools", "*", "go.mod"))
	sort.Strings(more)
	for _, p := range more {
		rel, _ := filepath.Rel(repoRoot, p)
		ms.tools = append(ms.tools, readGoMod(t, filepath.ToSlash(rel)))
	}
	return ms
}

// require finds the version of module in the main go.mod (tools=false) or the tools modules.
func (ms *modules) require(module string, tools bool) (located, bool) {
	if !tools {
		r, ok := ms.main.requires[module]
		return r, ok
	}
	for _, m := range ms.tools {
		if r, ok := m.requires[module]; ok {
			return r, true
		}
	}
	return located{}, false
}

// wantGo is the Go version the images must use: the newest go/toolchain line of all the modules.
// The returned description names the line, e.g. "tools/go.mod:3 `go 1.26.8`".
func (ms *modules) wantGo(t *testing.T) (string, [3]int) {
	t.Helper()
	var best string
	var bestV [3]int
	for _, m := range append([]*goMod{ms.main}, ms.tools...) {
		for _, l := range []struct {
			located
			directive string
		}{{m.goVersion, "go " + m.goVersion.value}, {m.toolchain, "toolchain go" + m.toolchain.value}} {
			if l.value == "" {
				continue
			}
			v, ok := parseGoVersion(l.value)
			if !ok {
				t.Fatalf("%s: cannot read Go version %q", l.where(), l.value)
			}
			if best == "" || compareGoVersions(v, bestV) > 0 {
				best, bestV = fmt.Sprintf("%s `%s`", l.where(), l.directive), v
			}
		}
	}
	return best, bestV
}

// ---------------------------------------------------------------------------------------------
// Dockerfile reading.

type instruction struct {
	line    int // first line
	keyword string
	args    string
}

type dockerfile struct {
	name         string // repository-relative
	lines        []string
	instructions []instruction
}

func readDockerfile(t *testing.T, rel string) *dockerfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	df := &dockerfile{name: rel, lines: strings.Split(string(data), "\n")}
	var cur *instruction
	for i, raw := range df.lines {
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // comments may sit inside a continued instruction too
		}
		cont := strings.HasSuffix(trimmed, `\`)
		text := strings.TrimSpace(strings.TrimSuffix(trimmed, `\`))
		if cur == nil {
			kw, rest, _ := strings.Cut(text, " ")
			cur = &instruction{line: i + 1, keyword: strings.ToUpper(kw), args: strings.TrimSpace(rest)}
		} else {
			cur.args += " " + text
		}
		if !cont {
			df.instructions = append(df.instructions, *cur)
			cur = nil
		}
	}
	if cur != nil {
		df.instructions = append(df.instructions, *cur)
	}
	return df
}

// imageRef splits "repo[:tag][@digest]"; the tag is what follows the last ':' after the last '/'.
func imageRef(ref string) (repo, tag, digest string) {
	ref, digest, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:], digest
	}
	return ref, "", digest
}

var (
	reLatestAt    = regexp.MustCompile(`(?i)@latest\b`)
	reLatestTag   = regexp.MustCompile(`(?i):latest\b`)
	reModuleAtVer = regexp.MustCompile(`\b([a-z0-9.-]+\.[a-z]{2,}(?:/[A-Za-z0-9._~-]+)+)@(v[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.+-]*)`)
	reGoImageTag  = regexp.MustCompile(`^([0-9]+\.[0-9]+\.[0-9]+)(-[a-z0-9.-]+)?$`)
	reWheelPin    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.+!_-]*$`)
)

// checkNoLatest reports every `@latest` or `:latest` in the given lines.
func checkNoLatest(t *testing.T, name string, lines []string) {
	t.Helper()
	for i, line := range lines {
		if reLatestAt.MatchString(line) || reLatestTag.MatchString(line) {
			t.Errorf("%s:%d: %q uses \"latest\": pin an exact version", name, i+1, strings.TrimSpace(line))
		}
	}
}

// checkModuleMentions compares every module@vX.Y.Z in the lines with the go.mod that requires it
// (the longest module path that prefixes the mention).
func checkModuleMentions(t *testing.T, ms *modules, name string, lines []string) {
	t.Helper()
	known := map[string][]located{}
	for _, m := range append([]*goMod{ms.main}, ms.tools...) {
		for mod, r := range m.requires {
			known[mod] = append(known[mod], r)
		}
	}
	for i, line := range lines {
		for _, match := range reModuleAtVer.FindAllStringSubmatch(line, -1) {
			path, version := match[1], match[2]
			module := ""
			for mod := range known {
				if (path == mod || strings.HasPrefix(path, mod+"/")) && len(mod) > len(module) {
					module = mod
				}
			}
			if module == "" {
				continue // not a dependency of the project: nothing to compare with
			}
			ok := false
			var wants []string
			for _, r := range known[module] {
				ok = ok || r.value == version
				wants = append(wants, fmt.Sprintf("%s (%s)", r.value, r.where()))
			}
			if !ok {
				t.Errorf("%s:%d: mentions %s@%s, but %s is required at %s",
					name, i+1, path, version, module, strings.Join(wants, ", "))
			}
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Tests.

func TestDockerfileVersionsMatchGoMod(t *testing.T) {
	ms := loadModules(t)
	wantGoAt, wantGo := ms.wantGo(t)

	// image repository -> first place it was seen with a tag, to keep both Dockerfiles on one base.
	type seenTag struct {
		tag   string
		where string
	}
	tagsByRepo := map[string]seenTag{}

	for _, name := range dockerfiles {
		df := readDockerfile(t, name)
		checkNoLatest(t, name, df.lines)
		checkModuleMentions(t, ms, name, df.lines)

		stages := map[string]bool{}
		args := map[string]located{}
		sawGoImage := false
		for _, ins := range df.instructions {
			switch ins.keyword {
			case "FROM":
				fields := strings.Fields(ins.args)
				var ref, stage string
				for i, f := range fields {
					if strings.HasPrefix(f, "--") {
						continue
					}
					ref = f
					if i+2 < len(fields) && strings.EqualFold(fields[i+1], "AS") {
						stage = strings.ToLower(fields[i+2])
					}
					break
				}
				if ref == "" {
					t.Errorf("%s:%d: FROM without an image", name, ins.line)
					continue
				}
				fromStage := stages[strings.ToLower(ref)]
				if stage != "" {
					stages[stage] = true
				}
				if fromStage {
					continue // an earlier stage of this file
				}
				if strings.Contains(ref, "$") {
					t.Errorf("%s:%d: FROM %s: use a literal, pinned image reference", name, ins.line, ref)
					continue
				}
				repo, tag, digest := imageRef(ref)
				if tag == "" && digest == "" {
					t.Errorf("%s:%d: FROM %s has no tag: pin an exact version", name, ins.line, ref)
					continue
				}
				if tag != "" && (strings.EqualFold(tag, "latest") || !strings.ContainsAny(tag, "0123456789")) {
					t.Errorf("%s:%d: FROM %s: tag %q is not a version", name, ins.line, ref, tag)
				}
				where := fmt.Sprintf("%s:%d", name, ins.line)
				if prev, ok := tagsByRepo[repo]; ok && prev.tag != tag {
					t.Errorf("%s: FROM %s:%s, but %s uses %s:%s: use one version", where, repo, tag, prev.where, repo, prev.tag)
				} else if !ok {
					tagsByRepo[repo] = seenTag{tag, where}
				}
				if repo == "golang" || repo == "docker.io/library/golang" || repo == "library/golang" {
					sawGoImage = true
					m := reGoImageTag.FindStringSubmatch(tag)
					if m == nil {
						t.Errorf("%s: FROM %s: the tag must start with the full Go version major.minor.patch", where, ref)
						continue
					}
					got, _ := parseGoVersion(m[1])
					if compareGoVersions(got, wantGo) != 0 {
						t.Errorf("%s: FROM %s pins Go %s, but the newest Go the modules declare is %d.%d.%d (%s): they must be equal",
							where, ref, m[1], wantGo[0], wantGo[1], wantGo[2], wantGoAt)
					}
				}
			case "ARG":
				for _, kv := range strings.Fields(ins.args) {
					k, v, hasValue := strings.Cut(kv, "=")
					if hasValue {
						args[k] = located{strings.Trim(v, `"'`), name, ins.line}
					}
				}
			}
		}
		if !sawGoImage {
			t.Errorf("%s: no `FROM golang:<version>` stage: the Go toolchain must come from a pinned golang image", name)
		}

		for _, argName := range requiredArgs[name] {
			if _, ok := args[argName]; !ok {
				t.Errorf("%s: missing `ARG %s=<version>`", name, argName)
			}
		}
		for argName, arg := range args {
			pin, ok := pinnedArgs[argName]
			if !ok {
				continue
			}
			req, found := ms.require(pin.module, pin.tools)
			owner := "go.mod"
			if pin.tools {
				owner = "tools/go.mod"
			}
			switch {
			case !found:
				t.Errorf("%s: ARG %s=%s, but %s does not require %s", arg.where(), argName, arg.value, owner, pin.module)
			case req.value != arg.value:
				t.Errorf("%s: ARG %s=%s, but %s requires %s %s: make them equal",
					arg.where(), argName, arg.value, req.where(), pin.module, req.value)
			}
		}
	}
}

func TestDockerDirHasNoLatest(t *testing.T) {
	ms := loadModules(t)
	for _, name := range extraScanned {
		data, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		lines := strings.Split(string(data), "\n")
		checkNoLatest(t, name, lines)
		checkModuleMentions(t, ms, name, lines)
	}
}

func TestCUDAWheelsArePinned(t *testing.T) {
	const name = "docker/cuda-wheels.txt"
	data, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	seen := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !reWheelPin.MatchString(line) {
			t.Errorf("%s:%d: %q: want exactly `name==version`", name, i+1, line)
			continue
		}
		pkg, _, _ := strings.Cut(line, "==")
		pkg = strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(pkg))
		if prev, dup := seen[pkg]; dup {
			t.Errorf("%s:%d: %s is already pinned on line %d", name, i+1, pkg, prev)
		}
		seen[pkg] = i + 1
	}
	if _, ok := seen["jax-cuda13-pjrt"]; !ok {
		t.Errorf("%s: jax-cuda13-pjrt (the CUDA PJRT plugin) is not pinned", name)
	}
}
