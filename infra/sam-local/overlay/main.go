// Command overlay writes a local variant of the built SAM template, next to it, for the two
// local targets that template.yaml, which describes AWS only, does not serve (its test keeps
// local settings out of it):
//
//	-for sam-local    declares the local-only variables (LocalOnlyVars) in Globals, empty, so
//	                  that `sam local --env-vars infra/sam-local/env.json` can set them: SAM
//	                  passes a container only the variables its template declares.
//	-for localstack   points the functions at the compose PostgreSQL, which has no TLS
//	                  (DB_SSLMODE=disable), and the contract step at the Stellar RPC double on
//	                  the compose network (SOROBAN_RPC_URL, SOROBAN_NETWORK=local), values the
//	                  template's parameters refuse (https only, public networks only).
//
// With -arch (x86_64 or arm64) every function runs on that architecture: the machine's own,
// for which the make targets build the bootstraps, so that neither sam local nor LocalStack
// needs to emulate the other one.
//
// Run it after `sam build` on the built template, e.g.
//
//	go run ./infra/sam-local/overlay -for sam-local .aws-sam/build/template.yaml
//
// which writes .aws-sam/build/template.sam-local.yaml: the same folder, so that each
// function's CodeUri still names its build artifacts. The make targets in
// infra/localstack/localstack.mk do this.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// LocalOnlyVars are the settings internal/config honours only with APP_ENV=local (and the
// emulator's endpoint), which the deployed template must not declare.
var LocalOnlyVars = []string{"APP_ENV", "AWS_ENDPOINT_URL", "DATABASE_URL", "SOROBAN_DEPLOYER_SEED"}

// contractFunction is the one function that deploys contracts.
const contractFunction = "DeploySorobanContractFunction"

func main() {
	target := flag.String("for", "", "sam-local or localstack")
	out := flag.String("o", "", "output file (default template.<for>.yaml next to the input)")
	rpcURL := flag.String("soroban-rpc-url", "http://stellar-rpc:8000", "with -for localstack: the Stellar RPC the contract step uses")
	arch := flag.String("arch", "", "x86_64 or arm64: the architecture every function runs on (default: the template's)")
	listParams := flag.Bool("list-parameters", false, "print the template's parameter names, space-separated, and nothing else")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: overlay -for sam-local|localstack [-o out.yaml] built-template.yaml")
		fmt.Fprintln(flag.CommandLine.Output(), "       overlay -list-parameters template.yaml")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *listParams && flag.NArg() == 1 {
		src, err := os.ReadFile(flag.Arg(0))
		if err != nil {
			fail(err)
		}
		names, err := Parameters(src)
		if err != nil {
			fail(fmt.Errorf("%s: %w", flag.Arg(0), err))
		}
		fmt.Println(strings.Join(names, " "))
		return
	}
	if flag.NArg() != 1 || (*target != "sam-local" && *target != "localstack") {
		flag.Usage()
		os.Exit(2)
	}
	in := flag.Arg(0)
	if *out == "" {
		*out = filepath.Join(filepath.Dir(in), "template."+*target+".yaml")
	}
	src, err := os.ReadFile(in)
	if err != nil {
		fail(err)
	}
	if *arch != "" && *arch != "x86_64" && *arch != "arm64" {
		fail(errors.New("-arch must be x86_64 or arm64"))
	}
	res, changes, err := Overlay(src, *target, *rpcURL, *arch)
	if err != nil {
		fail(fmt.Errorf("%s: %w", in, err))
	}
	if err := os.WriteFile(*out, res, 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "overlay: wrote %s (%s)\n", *out, strings.Join(changes, "; "))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "overlay:", err)
	os.Exit(1)
}

// Overlay returns the template with the target's changes (and every function on arch, when
// it is not empty), and says what it changed.
func Overlay(src []byte, target, rpcURL, arch string) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a template (no top-level mapping)")
	}
	root := doc.Content[0]
	if child(root, "Resources") == nil {
		return nil, nil, errors.New("not a template (no Resources)")
	}
	globalVars := mapping(root, "Globals", "Function", "Environment", "Variables")
	var changes []string
	switch target {
	case "sam-local":
		for _, v := range LocalOnlyVars {
			if child(globalVars, v) == nil {
				set(globalVars, v, "")
				changes = append(changes, "declared "+v)
			}
		}
	case "localstack":
		set(globalVars, "DB_SSLMODE", "disable")
		set(globalVars, "DB_SSLROOTCERT", "")
		fn := child(child(root, "Resources"), contractFunction)
		if fn == nil {
			return nil, nil, errors.New("no " + contractFunction)
		}
		vars := mapping(fn, "Properties", "Environment", "Variables")
		set(vars, "SOROBAN_RPC_URL", rpcURL)
		set(vars, "SOROBAN_NETWORK", "local")
		changes = append(changes, "DB_SSLMODE=disable", "DB_SSLROOTCERT unset",
			contractFunction+": SOROBAN_RPC_URL="+rpcURL+", SOROBAN_NETWORK=local")
	default:
		return nil, nil, errors.New("unknown target " + target)
	}
	if arch != "" {
		changes = append(changes, setArch(root, arch)...)
	}
	if len(changes) == 0 {
		changes = []string{"nothing to change"}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), changes, nil
}

// setArch puts every function on arch: Globals, and any function that names its own.
func setArch(root *yaml.Node, arch string) []string {
	list := func() *yaml.Node {
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle,
			Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: arch}}}
	}
	var changes []string
	fn := mapping(root, "Globals", "Function")
	if a := child(fn, "Architectures"); a == nil || len(a.Content) != 1 || a.Content[0].Value != arch {
		setNode(fn, "Architectures", list())
		changes = append(changes, "Architectures "+arch)
	}
	resources := child(root, "Resources")
	for i := 0; i+1 < len(resources.Content); i += 2 {
		props := child(resources.Content[i+1], "Properties")
		if a := child(props, "Architectures"); a != nil && (len(a.Content) != 1 || a.Content[0].Value != arch) {
			setNode(props, "Architectures", list())
			changes = append(changes, resources.Content[i].Value+" Architectures "+arch)
		}
	}
	return changes
}

// Parameters lists the names of the template's parameters, in order.
func Parameters(src []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a template (no top-level mapping)")
	}
	params := child(doc.Content[0], "Parameters")
	var names []string
	for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
		names = append(names, params.Content[i].Value)
	}
	return names, nil
}

// child is the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mapping follows keys from n, creating the mappings that are missing.
func mapping(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		next := child(n, k)
		if next == nil || next.Kind != yaml.MappingNode {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if i := index(n, k); i >= 0 {
				n.Content[i+1] = next
			} else {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, next)
			}
		}
		n = next
	}
	return n
}

func index(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// set gives key the plain string value in mapping n, replacing an intrinsic if there was one.
func set(n *yaml.Node, key, value string) {
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	if value == "" {
		v.Style = yaml.DoubleQuotedStyle
	}
	setNode(n, key, v)
}

// setNode gives key the value v in mapping n.
func setNode(n *yaml.Node, key string, v *yaml.Node) {
	if i := index(n, key); i >= 0 {
		n.Content[i+1] = v
		return
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}
