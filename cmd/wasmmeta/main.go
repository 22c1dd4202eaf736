// Command wasmmeta appends the contractenvmetav0 custom section that Soroban requires to a
// WebAssembly module (assemblers such as wat2wasm cannot emit it) and prints the sha256 of
// the result: the Wasm hash the network will know the contract code by.
//
//	go run ./cmd/wasmmeta -protocol 22 -in contract.wasm -out contract.meta.wasm [-spec spec.xdr]
//
// With -spec it also appends contractspecv0, the contract's interface for tools (the stellar
// CLI, explorers, generated clients; the host ignores it), from a file of XDR SCSpecEntry
// values; every function the spec names must be exported by the module.
//
// It refuses input that is not a WebAssembly module or that already has either section.
// The hash, 64 lowercase hex digits, is the only thing written to standard output.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/stellar/go/xdr"

	"github.com/healthstack/tenant-provisioning/internal/wasm"
)

// minProtocol is the first Stellar protocol with Soroban.
const minProtocol = 20

// SpecSection holds a contract's interface as a sequence of XDR SCSpecEntry values.
const SpecSection = "contractspecv0"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "wasmmeta:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wasmmeta", flag.ContinueOnError)
	fs.SetOutput(stderr)
	protocol := fs.Uint("protocol", 22, "Soroban interface (ledger) protocol the contract is built for")
	preRelease := fs.Uint("pre-release", 0, "interface pre-release number (0 for a released protocol)")
	in := fs.String("in", "", "input WebAssembly module (required)")
	out := fs.String("out", "", "output path (required; may equal -in)")
	specPath := fs.String("spec", "", "optional file of XDR SCSpecEntry values to add as "+SpecSection)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *in == "" || *out == "" {
		return errors.New("-in and -out are required")
	}
	if *protocol < minProtocol || *protocol > 1<<32-1 {
		return fmt.Errorf("-protocol %d: Soroban protocols start at %d", *protocol, minProtocol)
	}
	if *preRelease > 1<<32-1 {
		return fmt.Errorf("-pre-release %d does not fit in 32 bits", *preRelease)
	}

	src, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	if _, err := wasm.Sections(src); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if _, ok, _ := wasm.CustomSection(src, wasm.EnvMetaSection); ok {
		return fmt.Errorf("%s already has a %s section; refusing to add a second", *in, wasm.EnvMetaSection)
	}
	var spec []byte
	if *specPath != "" {
		if _, ok, _ := wasm.CustomSection(src, SpecSection); ok {
			return fmt.Errorf("%s already has a %s section; refusing to add a second", *in, SpecSection)
		}
		if spec, err = os.ReadFile(*specPath); err != nil {
			return err
		}
		exports, err := wasm.Exports(src)
		if err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
		if err := checkSpec(spec, exports); err != nil {
			return fmt.Errorf("%s: %w", *specPath, err)
		}
	}

	res := wasm.AppendCustomSection(src, wasm.EnvMetaSection, wasm.EnvMeta(uint32(*protocol), uint32(*preRelease)))
	if spec != nil {
		res = wasm.AppendCustomSection(res, SpecSection, spec)
	}
	// Read back what we wrote, as the host will.
	if got, err := wasm.InterfaceProtocol(res); err != nil || got != uint32(*protocol) {
		return fmt.Errorf("internal error: result declares protocol %d (%v), want %d", got, err, *protocol)
	}
	if err := writeAtomic(*out, res); err != nil {
		return err
	}
	sum := sha256.Sum256(res)
	_, err = fmt.Fprintln(stdout, hex.EncodeToString(sum[:]))
	return err
}

// checkSpec checks that spec is a non-empty sequence of XDR SCSpecEntry values with nothing
// left over, and that every function it describes is exported.
func checkSpec(spec []byte, exports []string) error {
	if len(spec) == 0 {
		return errors.New("empty spec")
	}
	dec := xdr.NewBytesDecoder()
	for off := 0; off < len(spec); {
		var e xdr.ScSpecEntry
		n, err := dec.DecodeBytes(&e, spec[off:])
		if err != nil {
			return fmt.Errorf("spec entry at byte %d: %w", off, err)
		}
		off += n
		if f, ok := e.GetFunctionV0(); ok && !slices.Contains(exports, string(f.Name)) {
			return fmt.Errorf("spec describes function %q, which the module does not export", f.Name)
		}
	}
	return nil
}

// writeAtomic writes b to path through a temporary file in the same directory, so that a
// failed run never leaves a truncated module behind.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
