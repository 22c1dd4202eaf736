package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/wasm"
)

// emptyModule is the smallest valid module: magic and version.
var emptyModule = append(append([]byte{}, wasm.Magic...), wasm.Version...)

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAppendsMetaAndPrintsHash(t *testing.T) {
	in := write(t, "in.wasm", emptyModule)
	out := filepath.Join(filepath.Dir(in), "out.wasm")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-protocol", "22", "-in", in, "-out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// 0x00 custom section, size 30 = 1 (name length) + 17 (name) + 12 (payload).
	want := append(append([]byte{}, emptyModule...), 0x00, 30, 17)
	want = append(want, "contractenvmetav0"...)
	want = append(want, 0, 0, 0, 0, 0, 0, 0, 22, 0, 0, 0, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("output\n got %x\nwant %x", got, want)
	}
	sum := sha256.Sum256(want)
	if s := stdout.String(); s != hex.EncodeToString(sum[:])+"\n" {
		t.Fatalf("stdout %q, want the sha256 of the output", s)
	}
	if p, err := wasm.InterfaceProtocol(got); err != nil || p != 22 {
		t.Fatalf("InterfaceProtocol = %d, %v", p, err)
	}
}

func TestInPlace(t *testing.T) {
	p := write(t, "c.wasm", emptyModule)
	if err := run([]string{"-in", p, "-out", p}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if v, err := wasm.InterfaceProtocol(b); err != nil || v != 22 {
		t.Fatalf("default protocol: got %d, %v; want 22", v, err)
	}
}

func TestRefuses(t *testing.T) {
	withMeta := wasm.AppendCustomSection(emptyModule, wasm.EnvMetaSection, wasm.EnvMeta(21, 0))
	cases := []struct {
		name  string
		input []byte
		args  []string
		want  string
	}{
		{"not wasm", []byte("(module)"), nil, "bad magic"},
		{"truncated section", append(append([]byte{}, emptyModule...), 1, 5, 0), nil, "overruns"},
		{"already has meta", withMeta, nil, "already has a contractenvmetav0"},
		{"protocol too old", emptyModule, []string{"-protocol", "19"}, "start at 20"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := write(t, "in.wasm", c.input)
			out := filepath.Join(filepath.Dir(in), "out.wasm")
			args := append([]string{"-in", in, "-out", out}, c.args...)
			var stdout bytes.Buffer
			err := run(args, &stdout, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if stdout.Len() != 0 {
				t.Fatalf("printed %q on failure", stdout.String())
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("wrote %s on failure (stat: %v)", out, err)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-in", "x.wasm"}, {"-in", "a", "-out", "b", "extra"}} {
		if err := run(args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// fooModule exports one function, foo() -> i64, returning 2.
var fooModule = append(append([]byte{}, emptyModule...),
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7e, // type: () -> i64
	0x03, 0x02, 0x01, 0x00, // function 0 has type 0
	0x07, 0x07, 0x01, 0x03, 'f', 'o', 'o', 0x00, 0x00, // export "foo" = function 0
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x02, 0x0b, // code: i64.const 2
)

func specXDR(t *testing.T, names ...string) []byte {
	t.Helper()
	var out []byte
	for _, n := range names {
		e := xdr.ScSpecEntry{Kind: xdr.ScSpecEntryKindScSpecEntryFunctionV0, FunctionV0: &xdr.ScSpecFunctionV0{
			Name:    xdr.ScSymbol(n),
			Outputs: []xdr.ScSpecTypeDef{{Type: xdr.ScSpecTypeScSpecTypeU32}},
		}}
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

func TestSpec(t *testing.T) {
	in := write(t, "in.wasm", fooModule)
	dir := filepath.Dir(in)
	out := filepath.Join(dir, "out.wasm")
	spec := specXDR(t, "foo")
	specPath := filepath.Join(dir, "spec.xdr")
	if err := os.WriteFile(specPath, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run([]string{"-in", in, "-out", out, "-spec", specPath}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	secs, err := wasm.Sections(got)
	if err != nil {
		t.Fatal(err)
	}
	var custom []string
	for _, s := range secs {
		if s.ID == wasm.SectionCustom {
			custom = append(custom, s.Name)
		}
	}
	if strings.Join(custom, ",") != "contractenvmetav0,contractspecv0" {
		t.Fatalf("custom sections %q, want env meta then spec", custom)
	}
	if b, _, _ := wasm.CustomSection(got, SpecSection); !bytes.Equal(b, spec) {
		t.Fatalf("contractspecv0 = %x, want %x", b, spec)
	}

	withSpec := wasm.AppendCustomSection(fooModule, SpecSection, spec)
	for _, c := range []struct {
		name   string
		module []byte
		spec   []byte
		want   string
	}{
		{"unexported function", fooModule, specXDR(t, "foo", "bar"), `function "bar", which the module does not export`},
		{"not xdr", fooModule, []byte{0, 0, 0, 0, 1}, "spec entry at byte 0"},
		{"trailing bytes", fooModule, append(specXDR(t, "foo"), 0, 0), "spec entry at byte"},
		{"empty", fooModule, []byte{}, "empty spec"},
		{"already has spec", withSpec, spec, "already has a contractspecv0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := write(t, "in.wasm", c.module)
			sp := filepath.Join(filepath.Dir(in), "spec.xdr")
			if err := os.WriteFile(sp, c.spec, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(filepath.Dir(in), "out.wasm")
			err := run([]string{"-in", in, "-out", out, "-spec", sp}, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("wrote %s on failure", out)
			}
		})
	}
}
