package wasm

import (
	"bytes"
	"slices"
	"testing"
)

// minimal is a module exporting one function "f" (type () -> i64), as wat2wasm emits it.
var minimal = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7e, // type section: () -> i64
	0x03, 0x02, 0x01, 0x00, // function section
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00, // export "f" func 0
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x02, 0x0b, // code: i64.const 2
}

func TestAppendAndReadEnvMeta(t *testing.T) {
	t.Parallel()
	if _, err := InterfaceProtocol(minimal); err == nil {
		t.Fatal("a module without contractenvmetav0 was accepted")
	}
	withMeta := AppendCustomSection(minimal, EnvMetaSection, EnvMeta(22, 0))
	if !bytes.HasPrefix(withMeta, minimal) {
		t.Error("appending changed the module's existing bytes")
	}
	p, err := InterfaceProtocol(withMeta)
	if err != nil || p != 22 {
		t.Fatalf("InterfaceProtocol = %d, %v", p, err)
	}
	meta, ok, err := CustomSection(withMeta, EnvMetaSection)
	if !ok || err != nil || !bytes.Equal(meta, []byte{0, 0, 0, 0, 0, 0, 0, 0x16, 0, 0, 0, 0}) {
		t.Errorf("section = %x, %v, %v", meta, ok, err)
	}
	exports, err := Exports(withMeta)
	if err != nil || !slices.Equal(exports, []string{"f"}) {
		t.Errorf("Exports = %v, %v", exports, err)
	}
}

func TestSectionsRejectsMalformedModules(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"empty":            nil,
		"bad magic":        append([]byte("\x00ELF"), minimal[4:]...),
		"bad version":      append(append([]byte{}, minimal[:4]...), 2, 0, 0, 0),
		"truncated":        minimal[:len(minimal)-2],
		"section overruns": append(append([]byte{}, minimal[:8]...), 0x01, 0x7f, 0x00),
		"bad leb":          append(append([]byte{}, minimal[:8]...), 0x01, 0xff, 0xff, 0xff, 0xff, 0xff),
	}
	for name, b := range cases {
		if _, err := Sections(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestULEBRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []uint32{0, 1, 127, 128, 300, 1 << 20, 1<<32 - 1} {
		b := appendULEB(nil, v)
		got, n, err := uleb(b)
		if err != nil || got != v || n != len(b) {
			t.Errorf("%d: got %d (%d bytes), %v", v, got, n, err)
		}
	}
}
