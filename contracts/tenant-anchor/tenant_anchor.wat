;; tenant_anchor.wat: the "tenant anchor" Soroban contract, one instance per tenant.
;;
;; At creation the provisioning pipeline passes two constructor arguments, which the
;; contract stores in its instance storage and then only ever reads back:
;;
;;   __constructor(tenant: Bytes, admin: Address) -> Void
;;   tenant()  -> Bytes     the 32-byte sha256 of the tenant id, as passed in
;;   admin()   -> Address   the admin address, as passed in
;;   version() -> u32       1
;;
;; Build with build.sh: wat2wasm, then cmd/wasmmeta appends the contractenvmetav0 section
;; (which wat2wasm cannot emit) and the contractspecv0 interface written by specgen/.
;; anchor_test.go recomputes every constant below in Go; README.md has the details.
;;
;; ---------------------------------------------------------------------------------------
;; ABI (Soroban host interface): every import and export is (i64 ...) -> i64, each i64
;; being a Val. The low 8 bits of a Val are its tag; the rest is the body:
;;
;;   Void            tag 2, body 0              -> 2
;;   U32Val (v)      tag 4, body v << 32        -> (v << 32) | 4
;;   SymbolSmall (s) tag 14, body = 6-bit codes -> (codes << 8) | 14
;;   Bytes, Address  object handles (tags 72, 77); the host makes them, we pass them on
;;
;; ---------------------------------------------------------------------------------------
;; Constants, each checkable by hand:
;;
;; Small symbols: each character is a 6-bit code, '_' = 1, '0'..'9' = 2..11,
;; 'A'..'Z' = 12..37, 'a'..'z' = 38..63, folded left to right as acc = (acc << 6) | code,
;; then the Val is (acc << 8) | 14.
;;
;;   "tenant": t = 38+19 = 57, e = 38+4 = 42, n = 38+13 = 51, a = 38, n = 51, t = 57
;;       acc = 57                                  = 57          (0x39)
;;       acc = 57 * 64 + 42                        = 3690        (0xe6a)
;;       acc = 3690 * 64 + 51                      = 236211      (0x39ab3)
;;       acc = 236211 * 64 + 38                    = 15117542    (0xe6ace6)
;;       acc = 15117542 * 64 + 51                  = 967522739   (0x39ab39b3)
;;       acc = 967522739 * 64 + 57                 = 61921455353 (0xe6ace6cf9)
;;       Val = 61921455353 * 256 + 14 = 15851892570382 (0xe6ace6cf90e)
;;
;;   "admin": a = 38, d = 38+3 = 41, m = 38+12 = 50, i = 38+8 = 46, n = 38+13 = 51
;;       acc = 38                                  = 38          (0x26)
;;       acc = 38 * 64 + 41                        = 2473        (0x9a9)
;;       acc = 2473 * 64 + 50                      = 158322      (0x26a72)
;;       acc = 158322 * 64 + 46                    = 10132654    (0x9a9cae)
;;       acc = 10132654 * 64 + 51                  = 648489907   (0x26a72bb3)
;;       Val = 648489907 * 256 + 14 = 166013416206 (0x26a72bb30e)
;;
;;   In hex the 6-bit groups are easy to see: 0xe6ace6cf9 = 111001 101010 110011 100110
;;   110011 111001 = 57 42 51 38 51 57, and 0x0e is the tag.
;;
;; Void = 2.
;; u32 1 = (1 << 32) | 4 = 4294967296 + 4 = 4294967300 (0x100000004).
;; StorageType::Instance = 2. It is NOT a Val: the host takes the storage type as a raw
;; u64 (Temporary = 0, Persistent = 1, Instance = 2).
;;
;; ---------------------------------------------------------------------------------------
;; What the host requires and this module respects: no floating point, no start function,
;; only MVP Wasm (build.sh turns off every post-MVP feature in wat2wasm, so using one is a
;; build error), a contractenvmetav0 custom section (appended by build.sh), and a
;; __constructor that returns Void. No linear memory: nothing here reads or writes memory,
;; and the host looks for an export named "memory" only for host functions that copy
;; to or from linear memory, which this contract does not import.
(module
  ;; Host functions, module "l" (ledger). Export names are the host's short names.
  ;; put_contract_data(k: Val, v: Val, t: StorageType) -> Void
  (import "l" "_" (func $put_contract_data (param i64 i64 i64) (result i64)))
  ;; get_contract_data(k: Val, t: StorageType) -> Val; traps if the key is absent
  (import "l" "1" (func $get_contract_data (param i64 i64) (result i64)))

  ;; __constructor(tenant, admin) -> Void. The host runs it exactly once, when the
  ;; contract instance is created; it cannot be invoked afterwards. The arguments are
  ;; stored as the Vals the host hands over; their types are not checked here.
  (func $__constructor (export "__constructor") (param $tenant i64) (param $admin i64) (result i64)
    ;; instance storage: "tenant" -> tenant
    (drop
      (call $put_contract_data
        (i64.const 15851892570382)  ;; key: Symbol "tenant" (see the table above)
        (local.get $tenant)         ;; value: the Val as given (Bytes, sha256 of the tenant id)
        (i64.const 2)))             ;; StorageType::Instance (raw, not a Val)
    ;; instance storage: "admin" -> admin
    (drop
      (call $put_contract_data
        (i64.const 166013416206)    ;; key: Symbol "admin" (see the table above)
        (local.get $admin)          ;; value: the Val as given (Address)
        (i64.const 2)))             ;; StorageType::Instance
    (i64.const 2))                  ;; Void: the host requires __constructor to return Void

  ;; tenant() -> the Val stored under "tenant"
  (func $tenant (export "tenant") (result i64)
    (call $get_contract_data
      (i64.const 15851892570382)    ;; key: Symbol "tenant"
      (i64.const 2)))               ;; StorageType::Instance

  ;; admin() -> the Val stored under "admin"
  (func $admin (export "admin") (result i64)
    (call $get_contract_data
      (i64.const 166013416206)      ;; key: Symbol "admin"
      (i64.const 2)))               ;; StorageType::Instance

  ;; version() -> u32 1
  (func $version (export "version") (result i64)
    (i64.const 4294967300))         ;; U32Val 1 = (1 << 32) | 4
)
