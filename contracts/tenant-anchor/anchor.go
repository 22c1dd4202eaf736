// Package anchor ships the tenant anchor contract built from tenant_anchor.wat, so every
// deployer carries the exact Wasm it installs (see README.md for its interface and build).
package anchor

import _ "embed"

// Wasm is the built contract, contractenvmetav0 included.
//
//go:embed tenant_anchor.wasm
var Wasm []byte
