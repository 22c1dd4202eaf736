// Package cfntemplate reads template.yaml for the consistency tests: CloudFormation YAML,
// whose !Ref, !Sub and !GetAtt tags a plain YAML decoder cannot map, kept as yaml.Nodes.
package cfntemplate

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Load parses the template and returns its top-level mapping.
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
	return doc.Content[0], nil
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
