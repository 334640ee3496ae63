package samtemplate

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// FunctionID is the logical ID of the function in template.yaml, which
// events/env.json must use as its top-level key.
const FunctionID = "CreateSessionFunction"

// Pseudo parameters the transform and the resolver use: a stack as
// `sam deploy` would create it from samconfig.toml.
var pseudo = map[string]string{
	"AWS::Region":    "eu-west-1",
	"AWS::AccountId": "123456789012",
	"AWS::Partition": "aws",
	"AWS::StackName": "complycube-createsession",
	"AWS::URLSuffix": "amazonaws.com",
}

//go:embed transform.py
var transformScript []byte

// SamConfig is the part of samconfig.toml the checks read.
type SamConfig struct {
	Version float64 `toml:"version"`
	Default struct {
		Build struct {
			Parameters map[string]any `toml:"parameters"`
		} `toml:"build"`
		Deploy struct {
			Parameters map[string]any `toml:"parameters"`
		} `toml:"deploy"`
		LocalInvoke struct {
			Parameters map[string]any `toml:"parameters"`
		} `toml:"local_invoke"`
		LocalStartAPI struct {
			Parameters map[string]any `toml:"parameters"`
		} `toml:"local_start_api"`
	} `toml:"default"`
}

// ReadSamConfig parses samconfig.toml.
func ReadSamConfig(path string) (SamConfig, error) {
	var c SamConfig
	_, err := toml.DecodeFile(path, &c)
	return c, err
}

var overridePattern = regexp.MustCompile(`([A-Za-z0-9]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))`)

// ParseOverrides reads SAM's parameter_overrides string:
// Name=Value or Name="Value with spaces", separated by spaces.
func ParseOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	rest := strings.TrimSpace(s)
	for rest != "" {
		m := overridePattern.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, fmt.Errorf("cannot parse parameter_overrides near %q", rest)
		}
		name := rest[m[2]:m[3]]
		var value string
		if m[4] >= 0 {
			value = strings.ReplaceAll(rest[m[4]:m[5]], `\"`, `"`)
		} else {
			value = rest[m[6]:m[7]]
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("parameter %s given twice", name)
		}
		out[name] = value
		rest = strings.TrimSpace(rest[m[1]:])
	}
	return out, nil
}

// ErrNoTools is returned when AWS's template tools are not installed.
var ErrNoTools = errors.New("AWS's template tools are not installed")

// Tools checks that cfn-lint and aws-sam-translator (Python packages on
// this project's machine image) are there.
func Tools() error {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		return fmt.Errorf("%w: no cfn-lint on PATH", ErrNoTools)
	}
	if out, err := exec.Command("python3", "-c", "import samtranslator, cfnlint").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: python3 cannot import samtranslator and cfnlint: %v %s", ErrNoTools, err, out)
	}
	return nil
}

// Finding is one cfn-lint match.
type Finding struct {
	Filename string
	Level    string // Error, Warning, Informational
	Message  string
	Rule     struct{ Id string }
}

func (f Finding) String() string { return f.Level + " " + f.Rule.Id + ": " + f.Message }

// Lint runs cfn-lint once over paths and returns its findings by file.
func Lint(paths ...string) (map[string][]Finding, error) {
	cmd := exec.Command("cfn-lint", append([]string{"--format", "json", "--"}, paths...)...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, fmt.Errorf("cfn-lint: %w", err)
	}
	// cfn-lint exits non-zero (a bit mask) when it finds something; the
	// JSON says what.
	var all []Finding
	if jerr := json.Unmarshal(out, &all); jerr != nil {
		return nil, fmt.Errorf("cfn-lint printed no JSON (%v): %s", err, out)
	}
	byFile := map[string][]Finding{}
	for _, f := range all {
		byFile[f.Filename] = append(byFile[f.Filename], f)
	}
	return byFile, nil
}

// Result is one template as AWS's SAM transform saw it.
type Result struct {
	Source      map[string]any `json:"source"`      // as written, tags in JSON form
	Transformed map[string]any `json:"transformed"` // the CloudFormation AWS would receive
	Error       string         `json:"error"`       // why the transform refused it
}

// Transform runs AWS's SAM transform over paths with the parameter values
// (samconfig.toml's; defaults for the rest) and every function's CodeUri
// packaged, as `sam deploy` hands the template to CloudFormation.
func Transform(values map[string]string, paths ...string) (map[string]Result, error) {
	script := filepath.Join(os.TempDir(), "samtemplate-transform.py")
	if err := os.WriteFile(script, transformScript, 0o644); err != nil {
		return nil, err
	}
	params := map[string]string{}
	for k, v := range pseudo {
		params[k] = v
	}
	for k, v := range values {
		params[k] = v
	}
	pj, _ := json.Marshal(params)
	cmd := exec.Command("python3", append([]string{script, string(pj)}, paths...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("SAM transform: %w", err)
	}
	var results map[string]Result
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("SAM transform output: %w", err)
	}
	return results, nil
}

// Parameter is one template parameter, its values as strings.
type Parameter struct {
	Type           string
	Default        *string
	AllowedPattern string
	AllowedValues  []string
	MinLength      string
	MinValue       string
	MaxValue       string
	Description    string
}

// Resource is one resource of the deployed template.
type Resource struct {
	Type       string
	Properties map[string]any
	Condition  string
}

// Stack is the CloudFormation template that AWS would deploy, with every
// intrinsic function resolved for one set of parameter values: Refs to
// resources become their logical IDs and Fn::GetAtt "ID.Attribute", so
// that the checks can follow them; AWS::NoValue removes what it stands in.
type Stack struct {
	Resources  map[string]Resource
	Outputs    map[string]any
	Parameters map[string]Parameter // as declared
	Values     map[string]string    // the value of every parameter
	Source     map[string]any       // the template as written
}

// Deploy turns a transform result into the Stack for values.
func Deploy(r Result, values map[string]string) (*Stack, error) {
	if r.Error != "" {
		return nil, fmt.Errorf("the SAM transform refused the template: %s", r.Error)
	}
	params, err := declaredParameters(r.Source)
	if err != nil {
		return nil, err
	}
	s := &Stack{Parameters: params, Values: map[string]string{}, Source: r.Source, Resources: map[string]Resource{}}
	for name := range values {
		if _, ok := params[name]; !ok {
			return nil, fmt.Errorf("value given for %s, which is not a template parameter", name)
		}
	}
	for name, p := range params {
		v, ok := values[name]
		if !ok {
			if p.Default == nil {
				return nil, fmt.Errorf("parameter %s has no value and no default", name)
			}
			v = *p.Default
		}
		if err := p.accepts(v); err != nil {
			return nil, fmt.Errorf("parameter %s=%q: %w", name, v, err)
		}
		s.Values[name] = v
	}
	rs := resolver{stack: s, resources: map[string]bool{}}
	rawResources, _ := r.Transformed["Resources"].(map[string]any)
	for id := range rawResources {
		rs.resources[id] = true
	}
	conds, _ := r.Transformed["Conditions"].(map[string]any)
	rs.conditions = conds
	for id, raw := range rawResources {
		m, _ := raw.(map[string]any)
		if c, ok := m["Condition"].(string); ok {
			if on, err := rs.condition(c); err != nil {
				return nil, err
			} else if !on {
				continue
			}
		}
		props, err := rs.resolve(m["Properties"])
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		pm, _ := props.(map[string]any)
		typ, _ := m["Type"].(string)
		s.Resources[id] = Resource{Type: typ, Properties: pm}
	}
	outs, err := rs.resolve(r.Transformed["Outputs"])
	if err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	s.Outputs, _ = outs.(map[string]any)
	// An output with a false Condition is not created.
	for name, o := range s.Outputs {
		om, _ := o.(map[string]any)
		if c, ok := om["Condition"].(string); ok {
			if on, err := rs.condition(c); err != nil {
				return nil, fmt.Errorf("output %s: %w", name, err)
			} else if !on {
				delete(s.Outputs, name)
			}
		}
	}
	return s, nil
}

func declaredParameters(source map[string]any) (map[string]Parameter, error) {
	raw, _ := source["Parameters"].(map[string]any)
	out := map[string]Parameter{}
	for name, v := range raw {
		m, _ := v.(map[string]any)
		p := Parameter{
			Type:           scalar(m["Type"]),
			AllowedPattern: scalar(m["AllowedPattern"]),
			MinLength:      scalar(m["MinLength"]),
			MinValue:       scalar(m["MinValue"]),
			MaxValue:       scalar(m["MaxValue"]),
			Description:    scalar(m["Description"]),
		}
		if d, ok := m["Default"]; ok {
			s := scalar(d)
			p.Default = &s
		}
		if av, ok := m["AllowedValues"].([]any); ok {
			for _, x := range av {
				p.AllowedValues = append(p.AllowedValues, scalar(x))
			}
		}
		out[name] = p
	}
	return out, nil
}

// scalar writes a YAML scalar as CloudFormation reads it: a string.
func scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}

func (p Parameter) accepts(v string) error {
	if p.AllowedPattern != "" && !regexp.MustCompile("^(?:"+p.AllowedPattern+")$").MatchString(v) {
		return fmt.Errorf("does not match AllowedPattern %s", p.AllowedPattern)
	}
	if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
		return fmt.Errorf("not one of AllowedValues %v", p.AllowedValues)
	}
	if p.MinLength != "" {
		n, _ := strconv.Atoi(p.MinLength)
		if len(v) < n {
			return fmt.Errorf("shorter than MinLength %d", n)
		}
	}
	if p.Type == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number")
		}
		if lo, err := strconv.ParseFloat(p.MinValue, 64); err == nil && f < lo {
			return fmt.Errorf("below MinValue %s", p.MinValue)
		}
		if hi, err := strconv.ParseFloat(p.MaxValue, 64); err == nil && f > hi {
			return fmt.Errorf("above MaxValue %s", p.MaxValue)
		}
	}
	return nil
}

// noValue stands in for AWS::NoValue until its container drops it.
type noValue struct{}

// resolver evaluates the intrinsic functions CloudFormation would.
type resolver struct {
	stack      *Stack
	resources  map[string]bool
	conditions map[string]any
}

func (r resolver) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := pseudo[name]; ok {
		return v, nil
	}
	if v, ok := r.stack.Values[name]; ok {
		if r.stack.Parameters[name].Type == "Number" {
			f, _ := strconv.ParseFloat(v, 64)
			return f, nil
		}
		return v, nil
	}
	if r.resources[name] {
		return name, nil
	}
	return nil, fmt.Errorf("a Ref to %s, which is neither a parameter nor a resource", name)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (r resolver) sub(format string, vars map[string]any) (string, error) {
	var err error
	out := subVar.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			return scalar(v)
		}
		if id, attr, ok := strings.Cut(name, "."); ok && r.resources[id] {
			return id + "." + attr
		}
		v, e := r.ref(name)
		if e != nil {
			err = e
			return ""
		}
		return scalar(v)
	})
	return out, err
}

func (r resolver) condition(name string) (bool, error) {
	c, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := r.resolve(c)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean", name)
	}
	return b, nil
}

func (r resolver) resolve(v any) (any, error) {
	switch t := v.(type) {
	case []any:
		out := make([]any, 0, len(t))
		for _, x := range t {
			y, err := r.resolve(x)
			if err != nil {
				return nil, err
			}
			if _, drop := y.(noValue); !drop {
				out = append(out, y)
			}
		}
		return out, nil
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if res, ok, err := r.intrinsic(k, arg); ok || err != nil {
					return res, err
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			y, err := r.resolve(x)
			if err != nil {
				return nil, err
			}
			if _, drop := y.(noValue); !drop {
				out[k] = y
			}
		}
		return out, nil
	}
	return v, nil
}

// intrinsic evaluates {name: arg} when name is an intrinsic function.
func (r resolver) intrinsic(name string, arg any) (any, bool, error) {
	args, _ := arg.([]any)
	switch name {
	case "Ref":
		s, _ := arg.(string)
		v, err := r.ref(s)
		return v, true, err
	case "Fn::GetAtt":
		if len(args) == 2 {
			return scalar(args[0]) + "." + scalar(args[1]), true, nil
		}
		s, _ := arg.(string)
		return s, true, nil
	case "Fn::Sub":
		if s, ok := arg.(string); ok {
			out, err := r.sub(s, nil)
			return out, true, err
		}
		if len(args) != 2 {
			return nil, true, errors.New("Fn::Sub takes a string or [string, variables]")
		}
		vars, err := r.resolve(args[1])
		if err != nil {
			return nil, true, err
		}
		vm, _ := vars.(map[string]any)
		out, err := r.sub(scalar(args[0]), vm)
		return out, true, err
	case "Fn::Join":
		if len(args) != 2 {
			return nil, true, errors.New("Fn::Join takes [separator, list]")
		}
		list, err := r.resolve(args[1])
		if err != nil {
			return nil, true, err
		}
		var parts []string
		for _, x := range list.([]any) {
			parts = append(parts, scalar(x))
		}
		return strings.Join(parts, scalar(args[0])), true, nil
	case "Fn::If":
		if len(args) != 3 {
			return nil, true, errors.New("Fn::If takes [condition, then, else]")
		}
		on, err := r.condition(scalar(args[0]))
		if err != nil {
			return nil, true, err
		}
		if on {
			v, err := r.resolve(args[1])
			return v, true, err
		}
		v, err := r.resolve(args[2])
		return v, true, err
	case "Condition":
		b, err := r.condition(scalar(arg))
		return b, true, err
	case "Fn::Equals":
		vs, err := r.resolve(arg)
		if err != nil {
			return nil, true, err
		}
		l, _ := vs.([]any)
		if len(l) != 2 {
			return nil, true, errors.New("Fn::Equals takes two values")
		}
		return scalar(l[0]) == scalar(l[1]), true, nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		vs, err := r.resolve(arg)
		if err != nil {
			return nil, true, err
		}
		l, _ := vs.([]any)
		var bs []bool
		for _, x := range l {
			b, ok := x.(bool)
			if !ok {
				return nil, true, fmt.Errorf("%s of a value that is not a condition", name)
			}
			bs = append(bs, b)
		}
		switch name {
		case "Fn::Not":
			return len(bs) == 1 && !bs[0], true, nil
		case "Fn::And":
			return !slices.Contains(bs, false), true, nil
		default:
			return slices.Contains(bs, true), true, nil
		}
	}
	return nil, false, nil
}

// RepoRoot walks up from the working directory to the folder holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
