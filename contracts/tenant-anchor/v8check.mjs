// v8check.mjs: run tenant_anchor.wasm in a real WebAssembly engine (Node's V8), with the
// two host storage functions it imports stood in by JavaScript, and check what it does.
// No packages needed:  node contracts/tenant-anchor/v8check.mjs [path/to/tenant_anchor.wasm]
// anchor_test.go runs it when node is installed. It checks the module validates and
// that the exports behave; it is not a Soroban host (no budget, no real storage or Vals).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const path = process.argv[2] ?? fileURLToPath(new URL('tenant_anchor.wasm', import.meta.url));
const bytes = readFileSync(path);

// Small symbol, computed here a third way (BigInt, from the character table).
const alphabet = '_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const symbol = (s) => {
  let body = 0n;
  for (const c of s) body = (body << 6n) | BigInt(alphabet.indexOf(c) + 1);
  return (body << 8n) | 14n;
};
const VOID = 2n;
const INSTANCE = 2n;
const u32 = (v) => (BigInt(v) << 32n) | 4n;

const storage = new Map();
const calls = [];
const imports = {
  l: {
    _: (k, v, t) => { calls.push(['put', k, v, t]); assert.equal(t, INSTANCE); storage.set(k, v); return VOID; },
    1: (k, t) => {
      calls.push(['get', k, t]);
      assert.equal(t, INSTANCE);
      if (!storage.has(k)) throw new Error(`missing key ${k}`);
      return storage.get(k);
    },
  },
};

const module = new WebAssembly.Module(bytes); // validates
assert.deepEqual(WebAssembly.Module.exports(module).map((e) => `${e.kind}:${e.name}`),
  ['function:__constructor', 'function:tenant', 'function:admin', 'function:version']);
const { exports } = new WebAssembly.Instance(module, imports);

// Vals are i64 to the engine, BigInt in JavaScript; V8 hands them back signed.
const asU64 = (v) => BigInt.asUintN(64, v);
const tenantVal = (7n << 32n) | 72n; // a Bytes object handle
const adminVal = (9n << 32n) | 77n;  // an Address object handle

assert.equal(asU64(exports.version()), u32(1));
assert.throws(() => exports.tenant(), /missing key/);
assert.equal(asU64(exports.__constructor(tenantVal, adminVal)), VOID);
assert.deepEqual([...storage.entries()].map(([k, v]) => [asU64(k), asU64(v)]),
  [[symbol('tenant'), tenantVal], [symbol('admin'), adminVal]]);
assert.equal(asU64(exports.tenant()), tenantVal);
assert.equal(asU64(exports.admin()), adminVal);
assert.equal(storage.size, 2);
console.log(`v8check: ok (${calls.length} host calls; "tenant" = ${symbol('tenant')}, "admin" = ${symbol('admin')})`);
