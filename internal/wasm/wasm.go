// Package wasm reads and amends WebAssembly binaries just enough for Soroban: list the
// sections and exports, find a custom section, append one (the contract's
// contractenvmetav0, which the usual assemblers drop), and read the interface protocol a
// contract declares.
package wasm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic and Version open every WebAssembly 1.0 module.
var (
	Magic   = []byte{0x00, 0x61, 0x73, 0x6d}
	Version = []byte{0x01, 0x00, 0x00, 0x00}
)

// Section ids used here.
const (
	SectionCustom = 0
	SectionExport = 7
)

// EnvMetaSection is the custom section in which a Soroban contract declares the host
// interface version it was built for; the host refuses a contract without it.
const EnvMetaSection = "contractenvmetav0"

// Section is one section of a module.
type Section struct {
	ID   byte
	Name string // custom sections only
	Data []byte // the payload (after the name, for custom sections)
}

// Sections parses the module's sections, checking the header and every length.
func Sections(b []byte) ([]Section, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], Magic) {
		return nil, errors.New("wasm: not a WebAssembly module (bad magic)")
	}
	if !bytes.Equal(b[4:8], Version) {
		return nil, errors.New("wasm: unsupported WebAssembly version")
	}
	var out []Section
	r := b[8:]
	for len(r) > 0 {
		id := r[0]
		size, n, err := uleb(r[1:])
		if err != nil {
			return nil, fmt.Errorf("wasm: section %d: %w", id, err)
		}
		start := 1 + n
		if uint64(len(r)-start) < uint64(size) {
			return nil, fmt.Errorf("wasm: section %d overruns the module", id)
		}
		s := Section{ID: id, Data: r[start : start+int(size)]}
		if id == SectionCustom {
			name, rest, err := name(s.Data)
			if err != nil {
				return nil, fmt.Errorf("wasm: custom section: %w", err)
			}
			s.Name, s.Data = name, rest
		}
		out = append(out, s)
		r = r[start+int(size):]
	}
	return out, nil
}

// CustomSection returns the payload of the first custom section called name.
func CustomSection(b []byte, sectionName string) ([]byte, bool, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, false, err
	}
	for _, s := range secs {
		if s.ID == SectionCustom && s.Name == sectionName {
			return s.Data, true, nil
		}
	}
	return nil, false, nil
}

// AppendCustomSection returns b with a custom section added at the end.
func AppendCustomSection(b []byte, sectionName string, payload []byte) []byte {
	var body []byte
	body = appendULEB(body, uint32(len(sectionName)))
	body = append(body, sectionName...)
	body = append(body, payload...)
	out := append([]byte{}, b...)
	out = append(out, SectionCustom)
	out = appendULEB(out, uint32(len(body)))
	return append(out, body...)
}

// Exports lists the names the module exports.
func Exports(b []byte) ([]string, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range secs {
		if s.ID != SectionExport {
			continue
		}
		count, n, err := uleb(s.Data)
		if err != nil {
			return nil, fmt.Errorf("wasm: export section: %w", err)
		}
		r := s.Data[n:]
		for i := uint32(0); i < count; i++ {
			nm, rest, err := name(r)
			if err != nil || len(rest) < 1 {
				return nil, errors.New("wasm: malformed export")
			}
			_, n, err := uleb(rest[1:]) // kind byte, then index
			if err != nil {
				return nil, errors.New("wasm: malformed export index")
			}
			names = append(names, nm)
			r = rest[1+n:]
		}
	}
	return names, nil
}

// EnvMeta is the payload of contractenvmetav0 for an interface version: the XDR of
// SCEnvMetaEntry{kind SC_ENV_META_KIND_INTERFACE_VERSION, protocol, pre-release}.
func EnvMeta(protocol, preRelease uint32) []byte {
	out := make([]byte, 12)
	binary.BigEndian.PutUint32(out[4:], protocol)
	binary.BigEndian.PutUint32(out[8:], preRelease)
	return out
}

// InterfaceProtocol reads the protocol a contract declares in contractenvmetav0.
func InterfaceProtocol(b []byte) (uint32, error) {
	meta, ok, err := CustomSection(b, EnvMetaSection)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.New("wasm: contract missing metadata section " + EnvMetaSection)
	}
	if len(meta) < 12 || binary.BigEndian.Uint32(meta[:4]) != 0 {
		return 0, errors.New("wasm: malformed " + EnvMetaSection)
	}
	return binary.BigEndian.Uint32(meta[4:8]), nil
}

func name(b []byte) (string, []byte, error) {
	l, n, err := uleb(b)
	if err != nil {
		return "", nil, err
	}
	if uint64(len(b)-n) < uint64(l) {
		return "", nil, errors.New("name overruns its section")
	}
	return string(b[n : n+int(l)]), b[n+int(l):], nil
}

// uleb decodes an unsigned LEB128 u32 and returns it with the bytes it took.
func uleb(b []byte) (uint32, int, error) {
	var v uint64
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if v > 1<<32-1 {
				return 0, 0, errors.New("LEB128 value too large")
			}
			return uint32(v), i + 1, nil
		}
	}
	return 0, 0, errors.New("truncated LEB128")
}

func appendULEB(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}
