package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"
	"github.com/xeipuuv/gojsonschema"
)

// FunctionID is the logical ID of the function in template.yaml, which
// events/env.json must use as its top-level key.
const FunctionID = "CreateSessionFunction"

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

// Template is template.yaml with its intrinsic functions resolved for one
// set of parameter values and its Globals merged into each function, as
// SAM does at deploy time.
type Template struct {
	Raw        map[string]any // resolved, Globals merged
	Typed      *cloudformation.Template
	Parameters map[string]Parameter
}

// Parameter is one template parameter.
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

// Load resolves template.yaml with the given parameter values (defaults for
// the rest), validates it against goformation's SAM schema, and merges its
// Globals. Refs to resources resolve to the resource's logical ID, so that
// the checks can follow them; AWS::NoValue removes list items as
// CloudFormation does.
func Load(data []byte, values map[string]string) (*Template, error) {
	var head struct {
		Parameters map[string]Parameter
	}
	if err := yamlParams(data, &head); err != nil {
		return nil, err
	}
	overrides := map[string]any{}
	for name, p := range head.Parameters {
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
		if p.Type == "Number" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("parameter %s=%q is not a number", name, v)
			}
			overrides[name] = n
		} else {
			overrides[name] = v
		}
	}
	for name := range values {
		if _, ok := head.Parameters[name]; !ok {
			return nil, fmt.Errorf("value given for %s, which is not a template parameter", name)
		}
	}
	refResources := func(name string, input any, template any) any {
		if s, ok := input.(string); ok {
			if res, ok := template.(map[string]any)["Resources"].(map[string]any); ok {
				if _, isResource := res[s]; isResource {
					return s
				}
			}
		}
		return intrinsics.Ref(name, input, template)
	}
	resolved, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{
		ParameterOverrides:        overrides,
		EvaluateConditions:        true,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": refResources},
	})
	if err != nil {
		return nil, fmt.Errorf("resolve intrinsics: %w", err)
	}
	var raw, declared map[string]any
	if err := json.Unmarshal(resolved, &raw); err != nil {
		return nil, err
	}
	// Parameters and Conditions are declarations: keep them as written, not
	// as the processor rewrote them with the values.
	unprocessed, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(unprocessed, &declared); err != nil {
		return nil, err
	}
	for _, k := range []string{"Parameters", "Conditions"} {
		if v, ok := declared[k]; ok {
			raw[k] = v
		}
	}
	raw = dropNulls(raw).(map[string]any)
	doc, _ := json.Marshal(raw)
	samSchema, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	result, err := samSchema.Validate(gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema validation: %w", err)
	}
	if !result.Valid() {
		var msgs []string
		for _, e := range result.Errors() {
			msgs = append(msgs, e.String())
		}
		return nil, fmt.Errorf("template does not match the SAM schema:\n  %s", strings.Join(msgs, "\n  "))
	}
	mergeGlobals(raw)
	merged, _ := json.Marshal(raw)
	// goformation's types predate LoggingConfig and type Parameter fields
	// unlike its own schema; the checks read those from Raw and Parameters.
	var forTypes map[string]any
	json.Unmarshal(merged, &forTypes)
	delete(forTypes, "Parameters")
	for _, r := range forTypes["Resources"].(map[string]any) {
		if props, ok := r.(map[string]any)["Properties"].(map[string]any); ok {
			delete(props, "LoggingConfig")
		}
	}
	merged, _ = json.Marshal(forTypes)
	typed, err := goformation.ParseJSONWithOptions(merged, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("goformation: %w", err)
	}
	return &Template{Raw: raw, Typed: typed, Parameters: head.Parameters}, nil
}

var (
	schemaOnce sync.Once
	samSchema  *gojsonschema.Schema
	schemaErr  error
)

// compiledSchema compiles goformation's SAM schema once (it is large).
func compiledSchema() (*gojsonschema.Schema, error) {
	schemaOnce.Do(func() {
		samSchema, schemaErr = gojsonschema.NewSchema(gojsonschema.NewStringLoader(schema.SamSchema))
	})
	return samSchema, schemaErr
}

func (p Parameter) accepts(v string) error {
	if p.AllowedPattern != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(v) {
		return fmt.Errorf("does not match AllowedPattern %s", p.AllowedPattern)
	}
	if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
		return errors.New("not one of AllowedValues")
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

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = dropNulls(x)
		}
		return t
	case []any:
		out := t[:0]
		for _, x := range t {
			if x != nil {
				out = append(out, dropNulls(x))
			}
		}
		return out
	}
	return v
}

// mergeGlobals applies Globals.Function to each AWS::Serverless::Function
// the way SAM does: a function's own value wins; maps merge key by key.
func mergeGlobals(raw map[string]any) {
	globals, _ := raw["Globals"].(map[string]any)
	fnGlobals, _ := globals["Function"].(map[string]any)
	resources, _ := raw["Resources"].(map[string]any)
	for _, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::Function" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			res["Properties"] = props
		}
		for k, gv := range fnGlobals {
			props[k] = mergeValue(gv, props[k])
		}
	}
	delete(raw, "Globals")
}

func mergeValue(global, local any) any {
	if local == nil {
		return global
	}
	gm, gok := global.(map[string]any)
	lm, lok := local.(map[string]any)
	if gok && lok {
		for k, v := range gm {
			lm[k] = mergeValue(v, lm[k])
		}
		return lm
	}
	return local
}

// Function returns the function resource, typed.
func (t *Template) Function() (*serverless.Function, error) {
	return t.Typed.GetServerlessFunctionWithName(FunctionID)
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

// yamlParams reads the template's Parameters section.
func yamlParams(data []byte, into any) error {
	j, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return fmt.Errorf("parse template: %w", err)
	}
	if err := json.Unmarshal(j, into); err != nil {
		return fmt.Errorf("template parameters (write every Default, MinValue and MaxValue as a quoted string): %w", err)
	}
	return nil
}
