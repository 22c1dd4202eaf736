// Package anchor_test checks the committed tenant anchor contract, tenant_anchor.wasm:
// its structure against what the Soroban host accepts, its constants against an
// independent computation, its behaviour against a stand-in for the host's storage
// functions, its interface (contractspecv0) against its exports, and, where wat2wasm is
// installed, that build.sh reproduces it byte for byte; where node is, v8check.mjs runs it
// in V8.
//
// None of this runs the contract in a real Soroban host; README.md says how to do that.
package anchor_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/wasm"
)

const (
	wasmFile = "tenant_anchor.wasm"
	watFile  = "tenant_anchor.wat"
	hashFile = "tenant_anchor.wasm.sha256"
	// The committed binary was built with this wabt; README.md records it too.
	wabtVersion = "1.0.32"
)

// Val encodings, from the Soroban host interface (see tenant_anchor.wat).
const (
	tagVoid        = 2
	tagU32         = 4
	tagSymbolSmall = 14
	valVoid        = tagVoid
	valTrue        = 1
	valFalse       = 0
	// StorageType is passed raw, not as a Val.
	storageInstance = 2
)

func u32Val(v uint32) uint64 { return uint64(v)<<32 | tagU32 }

// symbolSmall encodes a small symbol (at most 9 characters of [_0-9A-Za-z]) the way the
// host does: 6-bit codes '_' = 1, '0'-'9' = 2-11, 'A'-'Z' = 12-37, 'a'-'z' = 38-63,
// folded left to right, then shifted over the 8-bit tag 14.
func symbolSmall(s string) (uint64, error) {
	if len(s) > 9 {
		return 0, fmt.Errorf("symbol %q: more than 9 characters", s)
	}
	var body uint64
	for _, c := range []byte(s) {
		var code uint64
		switch {
		case c == '_':
			code = 1
		case '0' <= c && c <= '9':
			code = 2 + uint64(c-'0')
		case 'A' <= c && c <= 'Z':
			code = 12 + uint64(c-'A')
		case 'a' <= c && c <= 'z':
			code = 38 + uint64(c-'a')
		default:
			return 0, fmt.Errorf("symbol %q: character %q is not allowed", s, c)
		}
		body = body<<6 | code
	}
	return body<<8 | tagSymbolSmall, nil
}

func mustSymbol(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := symbolSmall(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSymbolEncoding(t *testing.T) {
	for _, c := range []struct {
		sym  string
		want uint64
	}{
		// Emitted by soroban-sdk's symbol_short!("trades") in a Rust-built contract
		// (an i64.const in its disassembly): ties this encoder to the real toolchain.
		{"trades", 15906857728014},
		{"", tagSymbolSmall},
		{"_", 1<<8 | tagSymbolSmall},
		{"a", 38<<8 | tagSymbolSmall},
		{"Z9", (37<<6|11)<<8 | tagSymbolSmall},
	} {
		if got := mustSymbol(t, c.sym); got != c.want {
			t.Errorf("symbolSmall(%q) = %d, want %d", c.sym, got, c.want)
		}
	}
	for _, bad := range []string{"tenant-id", "0123456789", "é"} {
		if _, err := symbolSmall(bad); err == nil {
			t.Errorf("symbolSmall(%q) accepted", bad)
		}
	}
}

// The hand-computed constants in the WAT source must equal the independent computation,
// and the binary must carry the same values.
func TestConstants(t *testing.T) {
	src, err := os.ReadFile(watFile)
	if err != nil {
		t.Fatal(err)
	}
	m := loadModule(t)
	var consts []uint64
	for _, body := range m.bodies {
		for _, in := range body.code {
			if in.op == opI64Const {
				consts = append(consts, in.imm)
			}
		}
	}
	for _, c := range []struct {
		what string
		val  uint64
	}{
		{`Symbol "tenant"`, mustSymbol(t, "tenant")},
		{`Symbol "admin"`, mustSymbol(t, "admin")},
		{"U32Val 1", u32Val(1)},
		{"Void", valVoid},
		{"StorageType::Instance", storageInstance},
	} {
		re := regexp.MustCompile(`\(i64\.const ` + fmt.Sprint(c.val) + `\)`)
		if !re.Match(src) {
			t.Errorf("%s = %d: no (i64.const %d) in %s", c.what, c.val, c.val, watFile)
		}
		if !slices.Contains(consts, c.val) {
			t.Errorf("%s = %d: no such i64.const in %s", c.what, c.val, wasmFile)
		}
	}
	t.Logf(`"tenant" = %d, "admin" = %d, u32 1 = %d`, mustSymbol(t, "tenant"), mustSymbol(t, "admin"), u32Val(1))
}

func TestHashFile(t *testing.T) {
	b := readFile(t, wasmFile)
	h, err := os.ReadFile(hashFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(h) {
		t.Fatalf("%s = %q: want 64 lowercase hex digits and a newline", hashFile, h)
	}
	sum := sha256.Sum256(b)
	if got, want := strings.TrimSpace(string(h)), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("%s says %s; %s hashes to %s: rebuild with build.sh", hashFile, got, wasmFile, want)
	}
	if readme := readFile(t, "README.md"); !bytes.Contains(readme, bytes.TrimSpace(h)) {
		t.Errorf("README.md does not give the current Wasm hash %s", bytes.TrimSpace(h))
	}
}

func TestStructure(t *testing.T) {
	b := readFile(t, wasmFile)
	secs, err := wasm.Sections(b)
	if err != nil {
		t.Fatalf("not a valid module: %v", err)
	}

	// Only the sections this contract needs: no start (8), no memory, globals, tables or
	// data. A custom section is allowed only for the two Soroban ones, once each.
	allowed := map[byte]string{1: "type", 2: "import", 3: "function", 7: "export", 10: "code"}
	custom := map[string]int{}
	for _, s := range secs {
		switch {
		case s.ID == 8:
			t.Errorf("start section present: the host refuses modules with a start function")
		case s.ID == wasm.SectionCustom:
			custom[s.Name]++
		case allowed[s.ID] == "":
			t.Errorf("unexpected section id %d", s.ID)
		}
	}
	if want := map[string]int{wasm.EnvMetaSection: 1, "contractspecv0": 1}; !equalMaps(custom, want) {
		t.Errorf("custom sections %v, want %v", custom, want)
	}

	p, err := wasm.InterfaceProtocol(b)
	if err != nil || p != 22 {
		t.Errorf("InterfaceProtocol = %d, %v; want 22", p, err)
	}
	meta, _, _ := wasm.CustomSection(b, wasm.EnvMetaSection)
	if !bytes.Equal(meta, wasm.EnvMeta(22, 0)) {
		t.Errorf("%s = %x, want %x (protocol 22, pre-release 0)", wasm.EnvMetaSection, meta, wasm.EnvMeta(22, 0))
	}

	// Exactly the four functions; no memory export, because there is no memory.
	names, err := wasm.Exports(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"__constructor", "tenant", "admin", "version"}; !slices.Equal(names, want) {
		t.Errorf("exports %q, want %q", names, want)
	}

	m := loadModule(t) // decodes every body within the integer-only opcode subset
	for i, ft := range m.types {
		for _, v := range append(slices.Clone(ft.params), ft.results...) {
			if v != valI64 {
				t.Errorf("type %d has value type 0x%02x; the ABI is i64 only (no floats)", i, v)
			}
		}
		if len(ft.results) != 1 {
			t.Errorf("type %d has %d results, want 1 (a Val)", i, len(ft.results))
		}
	}
	wantImports := []struct {
		module, name string
		params       int
	}{{"l", "_", 3}, {"l", "1", 2}} // put_contract_data(k, v, t), get_contract_data(k, t)
	if len(m.imports) != len(wantImports) {
		t.Fatalf("imports %+v, want l._ and l.1", m.imports)
	}
	for i, w := range wantImports {
		im := m.imports[i]
		if im.module != w.module || im.name != w.name || len(m.types[im.typ].params) != w.params {
			t.Errorf("import %d = %s.%s with %d params, want %s.%s with %d",
				i, im.module, im.name, len(m.types[im.typ].params), w.module, w.name, w.params)
		}
	}
	wantParams := map[string]int{"__constructor": 2, "tenant": 0, "admin": 0, "version": 0}
	for _, e := range m.exports {
		if e.kind != 0 {
			t.Errorf("export %q is not a function", e.name)
			continue
		}
		if got := len(m.funcType(e.idx).params); got != wantParams[e.name] {
			t.Errorf("%s takes %d params, want %d", e.name, got, wantParams[e.name])
		}
	}
}

// Run every export against a stand-in for the host's instance storage. It checks the
// wiring (argument order, keys, storage type, return values); it does not replace a
// real host.
func TestBehaviour(t *testing.T) {
	m := loadModule(t)
	h := &fakeHost{instance: map[uint64]uint64{}}
	// Object handles as the host would pass them: handle << 32 | tag (72 Bytes, 77 Address).
	tenantVal := uint64(7)<<32 | 72
	adminVal := uint64(9)<<32 | 77

	if got, err := m.call(h, "version"); err != nil || got != u32Val(1) {
		t.Errorf("version() = %d, %v; want %d (u32 1)", got, err, u32Val(1))
	}
	if _, err := m.call(h, "tenant"); err == nil {
		t.Errorf("tenant() before construction succeeded; it should read storage and trap")
	}
	got, err := m.call(h, "__constructor", tenantVal, adminVal)
	if err != nil || got != valVoid {
		t.Fatalf("__constructor = %d, %v; want Void (2)", got, err)
	}
	want := map[uint64]uint64{mustSymbol(t, "tenant"): tenantVal, mustSymbol(t, "admin"): adminVal}
	if !equalMaps(h.instance, want) {
		t.Fatalf("instance storage after construction = %v, want %v", h.instance, want)
	}
	if got, err := m.call(h, "tenant"); err != nil || got != tenantVal {
		t.Errorf("tenant() = %d, %v; want %d", got, err, tenantVal)
	}
	if got, err := m.call(h, "admin"); err != nil || got != adminVal {
		t.Errorf("admin() = %d, %v; want %d", got, err, adminVal)
	}
	if !equalMaps(h.instance, want) {
		t.Errorf("a read changed storage: %v", h.instance)
	}
}

// contractspecv0 (for tools, not the host) must describe exactly the exports, with the
// arities the code has and the types the pipeline passes.
func TestSpec(t *testing.T) {
	b := readFile(t, wasmFile)
	m := loadModule(t)
	raw, ok, err := wasm.CustomSection(b, "contractspecv0")
	if err != nil || !ok {
		t.Fatalf("no contractspecv0: %v", err)
	}
	dec := xdr.NewBytesDecoder()
	var fns []xdr.ScSpecFunctionV0
	for off := 0; off < len(raw); {
		var e xdr.ScSpecEntry
		n, err := dec.DecodeBytes(&e, raw[off:])
		if err != nil {
			t.Fatalf("spec entry at %d: %v", off, err)
		}
		off += n
		f, ok := e.GetFunctionV0()
		if !ok {
			t.Fatalf("spec entry of kind %v; want functions only", e.Kind)
		}
		fns = append(fns, f)
	}

	bytes32 := "BytesN(32)"
	want := map[string]struct{ inputs, outputs []string }{
		"__constructor": {[]string{"tenant:" + bytes32, "admin:Address"}, nil},
		"tenant":        {nil, []string{bytes32}},
		"admin":         {nil, []string{"Address"}},
		"version":       {nil, []string{"U32"}},
	}
	var names []string
	for _, f := range fns {
		name := string(f.Name)
		names = append(names, name)
		var ins, outs []string
		for _, in := range f.Inputs {
			ins = append(ins, in.Name+":"+typeName(in.Type))
		}
		for _, o := range f.Outputs {
			outs = append(outs, typeName(o))
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("spec describes %q, which is not expected", name)
			continue
		}
		if !slices.Equal(ins, w.inputs) || !slices.Equal(outs, w.outputs) {
			t.Errorf("spec %s(%v) -> %v, want (%v) -> %v", name, ins, outs, w.inputs, w.outputs)
		}
		e, ok := m.export(name)
		if !ok {
			t.Errorf("spec describes %q, which is not exported", name)
			continue
		}
		if n := len(m.funcType(e.idx).params); n != len(f.Inputs) {
			t.Errorf("spec gives %s %d inputs; the code takes %d", name, len(f.Inputs), n)
		}
	}
	if exports, _ := wasm.Exports(b); !slices.Equal(names, exports) {
		t.Errorf("spec functions %q, exports %q", names, exports)
	}
}

// build.sh must reproduce the committed binary and hash byte for byte.
func TestRebuild(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm not installed (apt-get install -y wabt): not checking that build.sh reproduces " + wasmFile)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: build.sh needs it for cmd/wasmmeta")
	}
	ver, _ := exec.Command("wat2wasm", "--version").Output()
	out := t.TempDir()
	cmd := exec.Command("bash", "build.sh", out)
	cmd.Env = append(os.Environ(), "GO="+goBin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{wasmFile, hashFile} {
		if got, want := readFile(t, filepath.Join(out, f)), readFile(t, f); !bytes.Equal(got, want) {
			t.Errorf("build.sh with wat2wasm %s made a %s that differs from the committed one (built with wabt %s); "+
				"if the source changed, run contracts/tenant-anchor/build.sh and commit the result",
				strings.TrimSpace(string(ver)), f, wabtVersion)
		}
	}
	if got, want := string(stdout), string(readFile(t, hashFile)); got != want {
		t.Errorf("build.sh printed %q, want the hash %q", got, want)
	}
}

// v8check.mjs runs the binary in a real WebAssembly engine, independent of the reader
// and interpreter below.
func TestV8(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: not running v8check.mjs")
	}
	out, err := exec.Command(node, "v8check.mjs", wasmFile).CombinedOutput()
	if err != nil {
		t.Fatalf("v8check.mjs: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}

// --- a minimal reader and interpreter for the subset of Wasm this contract uses ---------

const (
	valI64      = 0x7e
	valI32      = 0x7f
	opEnd       = 0x0b
	opDrop      = 0x1a
	opLocalGet  = 0x20
	opCall      = 0x10
	opI64Const  = 0x42
	maxCallDeep = 16
)

type funcType struct{ params, results []byte }

type importFunc struct {
	module, name string
	typ          uint32
}

type export struct {
	name string
	kind byte
	idx  uint32
}

type instr struct {
	op  byte
	imm uint64 // local or function index, or the i64.const value as two's complement
}

type body struct {
	locals int // declared locals beyond the parameters
	code   []instr
}

type module struct {
	types   []funcType
	imports []importFunc
	funcs   []uint32 // type index of each defined function
	exports []export
	bodies  []body
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadModule(t *testing.T) *module {
	t.Helper()
	m, err := parseModule(readFile(t, wasmFile))
	if err != nil {
		t.Fatalf("%s: %v", wasmFile, err)
	}
	return m
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errors.New("unexpected end")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.fail("u32 out of range")
			}
			return uint32(v)
		}
	}
	r.fail("u32 LEB128 too long")
	return 0
}

func (r *reader) s64() int64 {
	var v int64
	var shift uint
	for shift < 70 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail("s64 LEB128 too long")
	return 0
}

func (r *reader) name() string {
	n := r.u32()
	if r.err == nil && uint32(len(r.b)) < n {
		r.fail("name overruns")
	}
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) vec(f func()) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		f()
	}
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
}

func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%s section: %w", what, r.err)
	}
	return nil
}

func parseModule(b []byte) (*module, error) {
	secs, err := wasm.Sections(b)
	if err != nil {
		return nil, err
	}
	m := &module{}
	for _, s := range secs {
		r := &reader{b: s.Data}
		var what string
		switch s.ID {
		case 1:
			what = "type"
			r.vec(func() {
				if r.byte() != 0x60 {
					r.fail("not a function type")
				}
				var ft funcType
				r.vec(func() { ft.params = append(ft.params, r.byte()) })
				r.vec(func() { ft.results = append(ft.results, r.byte()) })
				m.types = append(m.types, ft)
			})
		case 2:
			what = "import"
			r.vec(func() {
				im := importFunc{module: r.name(), name: r.name()}
				if r.byte() != 0 {
					r.fail("import of something other than a function")
				}
				im.typ = r.u32()
				m.imports = append(m.imports, im)
			})
		case 3:
			what = "function"
			r.vec(func() { m.funcs = append(m.funcs, r.u32()) })
		case 7:
			what = "export"
			r.vec(func() {
				m.exports = append(m.exports, export{name: r.name(), kind: r.byte(), idx: r.u32()})
			})
		case 10:
			what = "code"
			r.vec(func() {
				size := r.u32()
				if r.err == nil && uint32(len(r.b)) < size {
					r.fail("body overruns")
				}
				if r.err != nil {
					return
				}
				bd, err := decodeBody(r.b[:size])
				if err != nil {
					r.err = fmt.Errorf("body %d: %w", len(m.bodies), err)
					return
				}
				m.bodies = append(m.bodies, bd)
				r.b = r.b[size:]
			})
		default:
			continue
		}
		if err := r.done(what); err != nil {
			return nil, err
		}
	}
	if len(m.funcs) != len(m.bodies) {
		return nil, fmt.Errorf("%d functions but %d bodies", len(m.funcs), len(m.bodies))
	}
	for _, ti := range m.funcs {
		if int(ti) >= len(m.types) {
			return nil, fmt.Errorf("type index %d out of range", ti)
		}
	}
	for _, im := range m.imports {
		if int(im.typ) >= len(m.types) {
			return nil, fmt.Errorf("import type index %d out of range", im.typ)
		}
	}
	for _, e := range m.exports {
		if e.kind == 0 && int(e.idx) >= len(m.imports)+len(m.funcs) {
			return nil, fmt.Errorf("export %q: function index %d out of range", e.name, e.idx)
		}
	}
	return m, nil
}

// decodeBody accepts only the straight-line, integer-only instructions this contract is
// written with. Any other opcode (a float one above all: the host refuses those) fails;
// extend the list only with integer instructions.
func decodeBody(b []byte) (body, error) {
	r := &reader{b: b}
	var bd body
	r.vec(func() {
		n := r.u32()
		if t := r.byte(); t != valI64 && t != valI32 {
			r.fail(fmt.Sprintf("local of type 0x%02x (only i32/i64 allowed)", t))
		}
		bd.locals += int(n)
	})
	for r.err == nil && len(r.b) > 0 {
		in := instr{op: r.byte()}
		switch in.op {
		case opEnd:
			if len(r.b) != 0 {
				r.fail("end before the end of the body")
			}
		case opDrop:
		case opLocalGet, opCall:
			in.imm = uint64(r.u32())
		case opI64Const:
			in.imm = uint64(r.s64())
		default:
			r.fail(fmt.Sprintf("opcode 0x%02x is outside the integer-only subset this contract uses", in.op))
		}
		bd.code = append(bd.code, in)
	}
	if r.err == nil && (len(bd.code) == 0 || bd.code[len(bd.code)-1].op != opEnd) {
		r.fail("body does not end with end")
	}
	return bd, r.err
}

func (m *module) funcType(idx uint32) funcType {
	if int(idx) < len(m.imports) {
		return m.types[m.imports[idx].typ]
	}
	return m.types[m.funcs[int(idx)-len(m.imports)]]
}

func (m *module) export(name string) (export, bool) {
	for _, e := range m.exports {
		if e.name == name {
			return e, true
		}
	}
	return export{}, false
}

func (m *module) call(h *fakeHost, name string, args ...uint64) (uint64, error) {
	e, ok := m.export(name)
	if !ok || e.kind != 0 {
		return 0, fmt.Errorf("no exported function %q", name)
	}
	return m.exec(h, e.idx, args, 0)
}

func (m *module) exec(h *fakeHost, idx uint32, args []uint64, depth int) (uint64, error) {
	ft := m.funcType(idx)
	if len(args) != len(ft.params) || len(ft.results) != 1 {
		return 0, fmt.Errorf("function %d: %d args for %d params, %d results", idx, len(args), len(ft.params), len(ft.results))
	}
	if int(idx) < len(m.imports) {
		return h.call(m.imports[idx], args)
	}
	if depth > maxCallDeep {
		return 0, errors.New("call depth exceeded")
	}
	bd := m.bodies[int(idx)-len(m.imports)]
	locals := append(slices.Clone(args), make([]uint64, bd.locals)...)
	var stack []uint64
	pop := func() uint64 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v
	}
	for _, in := range bd.code {
		switch in.op {
		case opLocalGet:
			if in.imm >= uint64(len(locals)) {
				return 0, fmt.Errorf("local %d out of range", in.imm)
			}
			stack = append(stack, locals[in.imm])
		case opI64Const:
			stack = append(stack, in.imm)
		case opDrop:
			if len(stack) == 0 {
				return 0, errors.New("drop on an empty stack")
			}
			pop()
		case opCall:
			if in.imm >= uint64(len(m.imports)+len(m.funcs)) {
				return 0, fmt.Errorf("call %d out of range", in.imm)
			}
			n := len(m.funcType(uint32(in.imm)).params)
			if len(stack) < n {
				return 0, fmt.Errorf("call %d: %d values on the stack, %d params", in.imm, len(stack), n)
			}
			callArgs := slices.Clone(stack[len(stack)-n:])
			stack = stack[:len(stack)-n]
			v, err := m.exec(h, uint32(in.imm), callArgs, depth+1)
			if err != nil {
				return 0, err
			}
			stack = append(stack, v)
		case opEnd:
			if len(stack) != 1 {
				return 0, fmt.Errorf("function %d ends with %d values on the stack, want 1", idx, len(stack))
			}
			return stack[0], nil
		}
	}
	return 0, errors.New("fell off the end of the body")
}

// fakeHost stands in for the host's instance storage functions (module "l"). Like the
// host, get traps on a missing key.
type fakeHost struct {
	instance map[uint64]uint64
}

func (h *fakeHost) call(im importFunc, args []uint64) (uint64, error) {
	storage := func(t uint64) error {
		if t != storageInstance {
			return fmt.Errorf("%s.%s: storage type %d, want Instance (%d)", im.module, im.name, t, storageInstance)
		}
		return nil
	}
	switch im.module + "." + im.name {
	case "l._": // put_contract_data(k, v, t) -> Void
		if err := storage(args[2]); err != nil {
			return 0, err
		}
		h.instance[args[0]] = args[1]
		return valVoid, nil
	case "l.1": // get_contract_data(k, t) -> Val
		if err := storage(args[1]); err != nil {
			return 0, err
		}
		v, ok := h.instance[args[0]]
		if !ok {
			return 0, fmt.Errorf("get_contract_data: no key %d (the host traps)", args[0])
		}
		return v, nil
	case "l.0": // has_contract_data(k, t) -> Bool
		if err := storage(args[1]); err != nil {
			return 0, err
		}
		if _, ok := h.instance[args[0]]; ok {
			return valTrue, nil
		}
		return valFalse, nil
	}
	return 0, fmt.Errorf("unexpected host function %s.%s", im.module, im.name)
}

func typeName(d xdr.ScSpecTypeDef) string {
	switch d.Type {
	case xdr.ScSpecTypeScSpecTypeBytesN:
		return fmt.Sprintf("BytesN(%d)", d.BytesN.N)
	case xdr.ScSpecTypeScSpecTypeAddress:
		return "Address"
	case xdr.ScSpecTypeScSpecTypeU32:
		return "U32"
	case xdr.ScSpecTypeScSpecTypeBytes:
		return "Bytes"
	}
	return d.Type.String()
}

func equalMaps[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
