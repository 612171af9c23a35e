package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// configAliases are config keys kept from the first configuration format,
// with the flag each stands for.
var configAliases = map[string]string{
	"http_log_x_request_id": "x-request-id-headers",
	"local_net":             "local-net",
}

// notConfigKeys are flags that cannot be set from a file.
var notConfigKeys = map[string]bool{"config": true, "help": true}

// applyConfigFile reads the YAML file named by cmd's --config flag, if any,
// and sets every flag it names that was not given on the command line
// (flags win). Keys are the long flag names (or a configAliases key);
// lists are YAML sequences or comma-separated strings; --service-name also
// takes a mapping of address to name. A key that names a flag of another
// wiretrace command is ignored; any other key, and a value the flag
// rejects, is an error naming the file, line and key.
func applyConfigFile(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("config")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	path := f.Value.String()
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return applyConfig(cmd.Flags(), path, b, allFlagNames())
}

// allFlagNames returns the long flag names of every wiretrace command.
func allFlagNames() map[string]bool {
	names := map[string]bool{}
	for _, c := range newRootCmd().Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
	}
	return names
}

// applyConfig sets fs's flags from the YAML document b (read from path);
// known lists flag names valid elsewhere, which are ignored.
func applyConfig(fs *pflag.FlagSet, path string, b []byte, known map[string]bool) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s:%d: want a mapping of settings", path, root.Line)
	}
	// Flags given on the command line win; note them before setting any.
	given := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { given[f.Name] = true })
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		if a, ok := configAliases[name]; ok {
			name = a
		}
		at := func(format string, args ...any) error {
			return fmt.Errorf("config: %s:%d: key %q: %s", path, k.Line, k.Value, fmt.Sprintf(format, args...))
		}
		if line, dup := seen[name]; dup {
			return at("already set on line %d", line)
		}
		seen[name] = k.Line
		f := fs.Lookup(name)
		if f == nil || notConfigKeys[name] {
			if known[name] && !notConfigKeys[name] {
				continue // a setting of another command
			}
			return at("unknown key")
		}
		if given[name] {
			continue
		}
		vals, err := nodeValues(v, name)
		if err != nil {
			return at("%v", err)
		}
		if _, ok := f.Value.(pflag.SliceValue); ok && v.Kind == yaml.ScalarNode {
			// "a, b" is a list too, as in the first format.
			vals = nil
			for _, e := range strings.Split(v.Value, ",") {
				if e = strings.TrimSpace(e); e != "" {
					vals = append(vals, e)
				}
			}
		}
		if len(vals) == 0 {
			// An empty list clears a list flag's default.
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				if err := sv.Replace(nil); err != nil {
					return at("%v", err)
				}
			}
			continue
		}
		for _, s := range vals {
			if err := fs.Set(name, s); err != nil {
				var ne *strconv.NumError
				if errors.As(err, &ne) {
					err = ne.Err
				}
				return at("bad value %q: %v", s, err)
			}
		}
	}
	return nil
}

// nodeValues returns the strings to pass to a flag's Set for a value node.
func nodeValues(v *yaml.Node, name string) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: want a list of scalars", e.Line)
			}
			out = append(out, e.Value)
		}
		return out, nil
	case yaml.MappingNode:
		if name != "service-name" {
			return nil, errors.New("want a scalar or a list, got a mapping")
		}
		var out []string
		for i := 0; i+1 < len(v.Content); i += 2 {
			if v.Content[i+1].Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: want ADDR: NAME", v.Content[i].Line)
			}
			out = append(out, v.Content[i].Value+"="+v.Content[i+1].Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported YAML value")
}

// urlFlags are the flags whose value is a broker URL that may hold a
// password.
var urlFlags = map[string]bool{"from": true, "publish": true}

// effectiveConfig renders fs's flags (defaults, config file and command
// line applied) as a YAML mapping in flag-name order.
func effectiveConfig(fs *pflag.FlagSet) ([]byte, error) {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !notConfigKeys[f.Name] {
			names = append(names, f.Name)
		}
	})
	slices.Sort(names)
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, n := range names {
		f := fs.Lookup(n)
		key := &yaml.Node{Kind: yaml.ScalarNode, Value: n}
		var val *yaml.Node
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			val = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, s := range sv.GetSlice() {
				val.Content = append(val.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: strings.TrimSpace(s)})
			}
		} else {
			v := f.Value.String()
			if urlFlags[n] {
				v = redactURL(v) // no password in the output
			}
			val = &yaml.Node{Kind: yaml.ScalarNode, Value: v}
			switch f.Value.Type() {
			case "bool":
				val.Tag = "!!bool"
			case "int", "int64", "uint", "uint16", "uint32":
				val.Tag = "!!int"
			default:
				val.Tag = "!!str"
			}
		}
		m.Content = append(m.Content, key, val)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}
	return yaml.Marshal(doc)
}

// newConfigCmd prints the effective configuration of 'serve' (whose flags
// include replay's and capture's) as YAML.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config [--config FILE] [flags]",
		Short: "Print the effective configuration as YAML",
		Long: `Config prints the settings that 'wiretrace serve' (and, for the keys they
share, replay and capture) would use: defaults, overridden by the --config
file, overridden by flags. The output is itself a valid --config file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := effectiveConfig(cmd.Flags())
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	registerServeFlags(cmd, &serveFlags{}, &outputFlags{}, &captureFlags{})
	return cmd
}
