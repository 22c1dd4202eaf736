package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// A template with what the overlay touches, in the shapes template.yaml uses: short-form
// intrinsics, Globals with variables, the contract function's own variables.
const small = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Environment:
      Variables:
        DB_HOST: !If [UseProxy, !GetAtt DatabaseProxy.Endpoint, !If [CreateDatabase, !GetAtt Database.Endpoint.Address, !Ref ExistingDbHost]]
        DB_SSLMODE: verify-full
        DB_SSLROOTCERT: /var/task/rds-global-bundle.pem
Resources:
  DeploySorobanContractFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SOROBAN_RPC_URL: !Ref SorobanRpcUrl
          SOROBAN_NETWORK: !Ref SorobanNetwork
  CreateSchemaFunction:
    Type: AWS::Serverless::Function
`

// templates are the small one and, when present, the project's own.
func templates(t *testing.T) map[string][]byte {
	t.Helper()
	ts := map[string][]byte{"small": []byte(small)}
	if b, err := os.ReadFile("../../../template.yaml"); err == nil {
		ts["template.yaml"] = b
	}
	return ts
}

func vars(t *testing.T, src []byte, path ...string) map[string]*yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0]
	for _, k := range path {
		n = child(n, k)
	}
	m := map[string]*yaml.Node{}
	for i := 0; n != nil && i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i+1]
	}
	return m
}

// sameTree reports whether two documents hold the same nodes (kinds, tags, values), however
// they are laid out.
func sameTree(t *testing.T, a, b []byte) bool {
	t.Helper()
	var na, nb yaml.Node
	if yaml.Unmarshal(a, &na) != nil || yaml.Unmarshal(b, &nb) != nil {
		return false
	}
	var eq func(x, y *yaml.Node) bool
	eq = func(x, y *yaml.Node) bool {
		if x.Kind != y.Kind || x.ShortTag() != y.ShortTag() || x.Value != y.Value || len(x.Content) != len(y.Content) {
			return false
		}
		for i := range x.Content {
			if !eq(x.Content[i], y.Content[i]) {
				return false
			}
		}
		return true
	}
	return eq(&na, &nb)
}

var globalVars = []string{"Globals", "Function", "Environment", "Variables"}

func TestSamLocalDeclaresTheLocalOnlyVariables(t *testing.T) {
	for name, src := range templates(t) {
		t.Run(name, func(t *testing.T) {
			out, changes, err := Overlay(src, "sam-local", "", "")
			if err != nil {
				t.Fatal(err)
			}
			got := vars(t, out, globalVars...)
			for _, v := range LocalOnlyVars {
				if n := got[v]; n == nil || n.Value != "" {
					t.Errorf("%s is not declared empty: %v", v, n)
				}
			}
			// Everything the template declared stays as it was, intrinsics included.
			for k, n := range vars(t, src, globalVars...) {
				if got[k] == nil || got[k].Tag != n.Tag || got[k].Value != n.Value {
					t.Errorf("%s changed", k)
				}
			}
			if len(changes) != len(LocalOnlyVars) {
				t.Errorf("changes %v", changes)
			}
			again, changes, err := Overlay(out, "sam-local", "", "")
			if err != nil || !sameTree(t, again, out) || !slices.Equal(changes, []string{"nothing to change"}) {
				t.Errorf("a second overlay changed %v (%v)", changes, err)
			}
		})
	}
}

func TestLocalStackPointsAtTheComposeServices(t *testing.T) {
	for name, src := range templates(t) {
		t.Run(name, func(t *testing.T) {
			out, _, err := Overlay(src, "localstack", "http://stellar-rpc:8000", "")
			if err != nil {
				t.Fatal(err)
			}
			g := vars(t, out, globalVars...)
			if g["DB_SSLMODE"].Value != "disable" || g["DB_SSLROOTCERT"].Value != "" {
				t.Errorf("DB_SSLMODE %q, DB_SSLROOTCERT %q", g["DB_SSLMODE"].Value, g["DB_SSLROOTCERT"].Value)
			}
			if g["DB_HOST"] == nil || g["DB_HOST"].Tag != "!If" {
				t.Errorf("DB_HOST lost its !If: %v", g["DB_HOST"])
			}
			fn := vars(t, out, "Resources", contractFunction, "Properties", "Environment", "Variables")
			if fn["SOROBAN_RPC_URL"].Value != "http://stellar-rpc:8000" || fn["SOROBAN_NETWORK"].Value != "local" {
				t.Errorf("contract function: %q %q", fn["SOROBAN_RPC_URL"].Value, fn["SOROBAN_NETWORK"].Value)
			}
			for _, v := range LocalOnlyVars {
				if strings.Contains(string(out), v+":") && !strings.Contains(string(src), v+":") {
					t.Errorf("the localstack overlay declares %s; LocalStack sets what it needs itself", v)
				}
			}
		})
	}
}

func TestArchitecture(t *testing.T) {
	src := []byte(small + `  OwnArchFunction:
    Type: AWS::Serverless::Function
    Properties:
      Architectures: [arm64]
`)
	for _, arch := range []string{"x86_64", "arm64"} {
		out, _, err := Overlay(src, "sam-local", "", arch)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		for _, path := range [][]string{{"Globals", "Function", "Architectures"}, {"Resources", "OwnArchFunction", "Properties", "Architectures"}} {
			n := doc.Content[0]
			for _, k := range path {
				n = child(n, k)
			}
			if n == nil || len(n.Content) != 1 || n.Content[0].Value != arch {
				t.Errorf("%s: %v is not [%s]", arch, path, arch)
			}
		}
		if n := child(child(child(doc.Content[0], "Resources"), "CreateSchemaFunction"), "Properties"); child(n, "Architectures") != nil {
			t.Errorf("%s: a function without its own Architectures got one", arch)
		}
	}
}

func TestParameters(t *testing.T) {
	got, err := Parameters([]byte("Parameters:\n  B: {Type: String}\n  A:\n    Type: Number\nResources:\n  X: !Ref B\n"))
	if err != nil || !slices.Equal(got, []string{"B", "A"}) {
		t.Errorf("Parameters = %v, %v", got, err)
	}
}

func TestRefusesWhatIsNoTemplate(t *testing.T) {
	for _, src := range []string{"", "- a\n- b\n", "Globals: {}\n"} {
		if _, _, err := Overlay([]byte(src), "sam-local", "", ""); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
	if _, _, err := Overlay([]byte("Resources: {}\n"), "localstack", "x", ""); err == nil {
		t.Error("localstack overlay without the contract function: no error")
	}
}
