#!/usr/bin/env bash
# Build the tenant anchor contract: tenant_anchor.wat -> tenant_anchor.wasm (+ .sha256).
#
#   contracts/tenant-anchor/build.sh [OUT_DIR]
#
# OUT_DIR defaults to this directory (the committed binary); anchor_test.go passes a temp
# directory to check that the committed binary is what this recipe produces.
#
# Steps: wat2wasm assembles the WAT with every post-MVP feature off (the Soroban host only
# accepts MVP Wasm) and no debug names, so the output holds only what the host needs and
# is the same on every run; specgen writes the contract's interface (contractspecv0, for
# tools such as the stellar CLI); cmd/wasmmeta then appends the contractenvmetav0 section
# (interface protocol 22, pre-release 0), which wat2wasm cannot emit, and the spec, and
# prints the sha256 of the result: the Wasm hash the network will use.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out_dir="${1:-$here}"
protocol=22

if ! command -v wat2wasm >/dev/null 2>&1; then
	cat >&2 <<'MSG'
build.sh: wat2wasm not found. It comes with WABT, the WebAssembly Binary Toolkit:
    Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y wabt
    macOS:          brew install wabt
The committed tenant_anchor.wasm was built with wabt 1.0.32 (Debian bookworm).
MSG
	exit 1
fi
GO="${GO:-go}"
if ! command -v "$GO" >/dev/null 2>&1; then
	echo "build.sh: go not found (needed for cmd/wasmmeta); install Go 1.26 or set GO=/path/to/go" >&2
	exit 1
fi

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "build.sh: wat2wasm $(wat2wasm --version | head -n1)" >&2
wat2wasm \
	--disable-mutable-globals \
	--disable-saturating-float-to-int \
	--disable-sign-extension \
	--disable-simd \
	--disable-multi-value \
	--disable-bulk-memory \
	--disable-reference-types \
	-o "$tmp/tenant_anchor.wasm" \
	"$here/tenant_anchor.wat"

(cd "$root" && "$GO" run ./contracts/tenant-anchor/specgen -out "$tmp/spec.xdr")
hash="$(cd "$root" && "$GO" run ./cmd/wasmmeta -protocol "$protocol" -spec "$tmp/spec.xdr" \
	-in "$tmp/tenant_anchor.wasm" -out "$tmp/tenant_anchor.meta.wasm")"
if ! [[ "$hash" =~ ^[0-9a-f]{64}$ ]]; then
	echo "build.sh: wasmmeta printed '$hash', not a sha256" >&2
	exit 1
fi
# Cross-check the hash with an independent implementation where there is one.
if command -v sha256sum >/dev/null 2>&1; then
	check="$(sha256sum "$tmp/tenant_anchor.meta.wasm" | cut -d' ' -f1)"
	if [[ "$check" != "$hash" ]]; then
		echo "build.sh: sha256sum says $check, wasmmeta says $hash" >&2
		exit 1
	fi
fi

mv "$tmp/tenant_anchor.meta.wasm" "$out_dir/tenant_anchor.wasm"
chmod 0644 "$out_dir/tenant_anchor.wasm"
printf '%s\n' "$hash" >"$out_dir/tenant_anchor.wasm.sha256"

echo "build.sh: wrote $out_dir/tenant_anchor.wasm ($(wc -c <"$out_dir/tenant_anchor.wasm" | tr -d ' ') bytes)" >&2
echo "$hash"
