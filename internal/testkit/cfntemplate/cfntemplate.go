// Package cfntemplate reads template.yaml for the consistency tests: CloudFormation YAML,
// whose !Ref, !Sub and !GetAtt tags a plain YAML decoder cannot map, kept as yaml.Nodes,
// with its Fn::ForEach loops expanded as the AWS::LanguageExtensions transform does.
package cfntemplate

import (
	"fmt"
	"os"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Load parses the template, expands its Fn::ForEach loops and returns its top-level
// mapping.
func Load(path string) (*yaml.Node, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", path)
	}
	if err := Expand(doc.Content[0]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Content[0], nil
}

// Expand replaces every Fn::ForEach::<Name> of the template's Resources, Outputs and
// Conditions by what it makes: for each item of its collection, its fragment with
// ${Identifier} replaced by the item in keys and values, &{Identifier} by the item without
// its non-alphanumeric characters (as CloudFormation does, for logical ids), and a Ref to
// the identifier by the item itself. A !Sub left with nothing to substitute becomes its
// string, as the transform leaves it. A loop may hold loops. Collections must be literal lists (a Ref to a
// CommaDelimitedList parameter is not expanded: this template has none).
func Expand(root *yaml.Node) error {
	for _, section := range []string{"Resources", "Outputs", "Conditions"} {
		m := Get(root, section)
		if m == nil {
			continue
		}
		var out []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if !strings.HasPrefix(k.Value, "Fn::ForEach::") {
				out = append(out, k, v)
				continue
			}
			made, err := forEach(k.Value, v)
			if err != nil {
				return err
			}
			out = append(out, made...)
		}
		m.Content = out
	}
	return nil
}

func forEach(name string, v *yaml.Node) ([]*yaml.Node, error) {
	if v.Kind != yaml.SequenceNode || len(v.Content) != 3 || v.Content[1].Kind != yaml.SequenceNode || v.Content[2].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want [identifier, [items…], {fragment}]", name)
	}
	ident, fragment := v.Content[0].Value, v.Content[2]
	var out []*yaml.Node
	for _, item := range v.Content[1].Content {
		if item.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: an item of the collection is not a string", name)
		}
		for i := 0; i+1 < len(fragment.Content); i += 2 {
			if inner := fragment.Content[i].Value; strings.HasPrefix(inner, "Fn::ForEach::") {
				// A loop in a loop: the outer item first, then the inner loop's own.
				made, err := forEach(name+"/"+inner, substitute(fragment.Content[i+1], ident, item.Value))
				if err != nil {
					return nil, err
				}
				out = append(out, made...)
				continue
			}
			key := substitute(fragment.Content[i], ident, item.Value)
			if key.Value == fragment.Content[i].Value {
				return nil, fmt.Errorf("%s: key %s does not name the identifier %s", name, key.Value, ident)
			}
			out = append(out, key, substitute(fragment.Content[i+1], ident, item.Value))
		}
	}
	return out, nil
}

// substitute copies n with the identifier replaced by value.
func substitute(n *yaml.Node, ident, value string) *yaml.Node {
	c := *n
	c.Content = nil
	if n.Kind == yaml.ScalarNode {
		c.Value = strings.NewReplacer("${"+ident+"}", value, "&{"+ident+"}", alphanumeric(value)).Replace(n.Value)
		if c.Tag == "!Sub" && !strings.Contains(c.Value, "${") {
			c.Tag, c.Style = "!!str", 0
		}
		if c.Tag == "!Ref" && c.Value == ident {
			c.Tag, c.Value, c.Style = "!!str", value, 0
		}
		return &c
	}
	for _, ch := range n.Content {
		c.Content = append(c.Content, substitute(ch, ident, value))
	}
	if n.Kind == yaml.MappingNode && len(c.Content) == 2 && c.Content[0].Value == "Ref" && c.Content[1].Value == value && n.Content[1].Value == ident {
		return c.Content[1] // Ref: Identifier
	}
	return &c
}

// Get follows keys through nested mappings; nil when one is missing.
func Get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// Keys lists a mapping's keys in order.
func Keys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var ks []string
	for i := 0; i < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	return ks
}

// alphanumeric is s without the characters that are not ASCII letters or digits.
func alphanumeric(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return -1
	}, s)
}
