// Package config reads the process environment once, into typed settings, and fails fast
// naming the variable that is missing or malformed. .env.example documents every variable.
package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stellar/go/network"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Env is where settings are read from: os.Getenv for the functions (the Load* functions),
// or another lookup for a test that must know what a loader reads.
type Env func(name string) string

// OS is the process environment.
var OS Env = os.Getenv

// Local reports whether the process runs on a developer machine (APP_ENV=local). Only then
// are plain-text fallbacks such as DATABASE_URL honoured: deployed, credentials come from
// Secrets Manager and nowhere else.
func Local() bool { return OS.Local() }

// Local is Local for e.
func (e Env) Local() bool { return e("APP_ENV") == "local" }

// Database says how functions reach PostgreSQL.
type Database struct {
	// URL is a full connection string, honoured only when Local (DATABASE_URL).
	URL string
	// SecretARN names the Secrets Manager secret with the credentials, in the JSON shape
	// RDS uses (DB_SECRET_ARN). Host, port and database name in the secret win over the
	// DB_HOST, DB_PORT and DB_NAME settings. Only the control-plane migration has it: it
	// holds the master user's password.
	SecretARN string
	// User is the database user the function logs in as: not a setting, its catalogue
	// entry's (catalog.Function.DBUser, which wiring fills in). Deployed, it logs in with
	// an IAM authentication token made per connection from the function's role, so it
	// holds no password; locally, DATABASE_URL's server trusts it. Empty for the
	// control-plane migration, which logs in as the secret's master user.
	User string
	Host string // DB_HOST
	Port int    // DB_PORT, default 5432
	Name string // DB_NAME
	// SSLMode is libpq's sslmode (DB_SSLMODE, default verify-full); SSLRootCert the CA
	// bundle file that verifies the server (DB_SSLROOTCERT, e.g. the RDS bundle).
	SSLMode     string
	SSLRootCert string
	// MaxConns is the pool size (DB_MAX_CONNS); 0 keeps the default for Lambda.
	MaxConns int32
	// Proxy says DB_HOST:DB_PORT is an RDS Proxy in front of the database (DB_PROXY=true):
	// the secret's host and port, which name the instance behind it, are ignored, and no
	// statement is prepared by name, because a named prepared statement pins the client's
	// session to one database connection and the proxy could no longer share it.
	Proxy bool
}

// LoadDatabase reads the database settings.
func LoadDatabase() (Database, error) { return OS.Database() }

// Database reads the database settings from e.
func (e Env) Database() (Database, error) {
	db := Database{
		URL:         e("DATABASE_URL"),
		SecretARN:   e("DB_SECRET_ARN"),
		Host:        e("DB_HOST"),
		Name:        e("DB_NAME"),
		SSLMode:     e.or("DB_SSLMODE", "verify-full"),
		SSLRootCert: e("DB_SSLROOTCERT"),
		Port:        5432,
	}
	switch {
	case db.SecretARN != "":
		db.URL = "" // never mix: the secret is the source of credentials
	case db.URL != "" && e.Local():
	case db.URL != "":
		return db, bad("DATABASE_URL", "is honoured only with APP_ENV=local; deployed functions log in with IAM at DB_HOST")
	case e.Local():
		return db, notSet("DATABASE_URL", "a postgres:// URL; see .env.example")
	case db.Host == "":
		return db, notSet("DB_HOST", "the database endpoint, which functions log in to with IAM; for local use set APP_ENV=local and DATABASE_URL")
	case db.Name == "":
		return db, notSet("DB_NAME", "the database the functions log in to")
	}
	var err error
	if db.Port, err = e.int("DB_PORT", 5432, 1, 65535); err != nil {
		return db, err
	}
	n, err := e.int("DB_MAX_CONNS", 0, 1, 100)
	if err != nil {
		return db, err
	}
	db.MaxConns = int32(n)
	switch v := e("DB_PROXY"); v {
	case "", "false":
	case "true":
		db.Proxy = true
	default:
		return db, bad("DB_PROXY", "must be true or false")
	}
	switch db.SSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return db, bad("DB_SSLMODE", "must be one of disable, allow, prefer, require, verify-ca, verify-full")
	}
	return db, nil
}

// Email holds what the e-mail steps need, as the pipeline takes it (pipeline.WithEmail):
// the sender's identity (From, ConfigurationSet), which the sender is built with, and the
// addresses, links and expiry the messages carry.
type Email struct {
	From             string // SES_FROM_ADDRESS: a verified SES identity
	ConfigurationSet string // SES_CONFIGURATION_SET, optional
	OpsAddress       string // OPS_EMAIL, optional: receives the detailed cause of failures
	// AppBaseURL is where admins activate their account (APP_BASE_URL): https://, except
	// on a developer machine (APP_ENV=local), where http://localhost:3000 serves the page.
	AppBaseURL string
	// TenantURLTemplate is the tenant's own address (TENANT_URL_TEMPLATE), with {tenantId}
	// and {slug} placeholders; default APP_BASE_URL/t/{tenantId}.
	TenantURLTemplate string
	ActivationTTL     time.Duration // ACTIVATION_TTL, a Go duration, default 72h
}

// LoadEmail reads the e-mail settings.
func LoadEmail() (Email, error) { return OS.Email() }

// LoadLocalEmail is LoadEmail on a developer machine, whose stack brings its own mail
// server: SES_FROM_ADDRESS and APP_BASE_URL default to from and appBaseURL, and APP_ENV to
// local.
func LoadLocalEmail(from, appBaseURL string) (Email, error) {
	defaults := map[string]string{"SES_FROM_ADDRESS": from, "APP_BASE_URL": appBaseURL, "APP_ENV": "local"}
	return Env(func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return defaults[name]
	}).Email()
}

// Email reads the e-mail settings from getenv.
func (getenv Env) Email() (Email, error) {
	e := Email{
		From:              getenv("SES_FROM_ADDRESS"),
		ConfigurationSet:  getenv("SES_CONFIGURATION_SET"),
		OpsAddress:        getenv("OPS_EMAIL"),
		AppBaseURL:        strings.TrimSuffix(getenv("APP_BASE_URL"), "/"),
		TenantURLTemplate: getenv("TENANT_URL_TEMPLATE"),
		ActivationTTL:     72 * time.Hour,
	}
	if err := requireAddress("SES_FROM_ADDRESS", e.From, true); err != nil {
		return e, err
	}
	if err := requireAddress("OPS_EMAIL", e.OpsAddress, false); err != nil {
		return e, err
	}
	if err := requireURL("APP_BASE_URL", e.AppBaseURL); err != nil {
		return e, err
	}
	// The activation page takes a new password: deployed, never over plain HTTP.
	if u, _ := url.Parse(e.AppBaseURL); u.Scheme != "https" && !getenv.Local() {
		return e, bad("APP_BASE_URL", "must be an https:// URL (http:// only with APP_ENV=local)")
	}
	if e.TenantURLTemplate == "" {
		e.TenantURLTemplate = e.AppBaseURL + "/t/{tenantId}"
	} else if err := requireURL("TENANT_URL_TEMPLATE", strings.NewReplacer("{tenantId}", "x", "{slug}", "x").Replace(e.TenantURLTemplate)); err != nil {
		return e, err
	}
	if v := getenv("ACTIVATION_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Minute || d > 30*24*time.Hour {
			return e, bad("ACTIVATION_TTL", "must be a duration between 10m and 720h")
		}
		e.ActivationTTL = d
	}
	return e, nil
}

// Workflow names the provisioning state machine the API starts executions of.
type Workflow struct {
	StateMachineARN string // STATE_MACHINE_ARN (UPGRADE_STATE_MACHINE_ARN for the upgrade's)
}

// LoadWorkflow reads the provisioning state machine's settings.
func LoadWorkflow() (Workflow, error) { return OS.Workflow() }

// Workflow reads the provisioning state machine's settings from e.
func (e Env) Workflow() (Workflow, error) { return e.stateMachine("STATE_MACHINE_ARN") }

// LoadUpgradeWorkflow reads the upgrade state machine's: UPGRADE_STATE_MACHINE_ARN.
func LoadUpgradeWorkflow() (Workflow, error) { return OS.UpgradeWorkflow() }

// UpgradeWorkflow reads the upgrade state machine's settings from e.
func (e Env) UpgradeWorkflow() (Workflow, error) { return e.stateMachine("UPGRADE_STATE_MACHINE_ARN") }

// AuditChain is where the audit trail's digests are signed and kept: the KMS signing key
// (AUDIT_KEY_ID, an id, ARN or alias) and the Object Lock bucket (AUDIT_BUCKET).
type AuditChain struct {
	KeyID, Bucket string
}

// LoadAuditChain reads the audit chain's settings from the environment.
func LoadAuditChain() (AuditChain, error) { return OS.AuditChain() }

// AuditChain reads the audit chain's settings from e; both are required.
func (e Env) AuditChain() (AuditChain, error) {
	a := AuditChain{KeyID: e("AUDIT_KEY_ID"), Bucket: e("AUDIT_BUCKET")}
	switch {
	case a.KeyID == "":
		return a, notSet("AUDIT_KEY_ID", "")
	case a.Bucket == "":
		return a, notSet("AUDIT_BUCKET", "")
	}
	return a, nil
}

// Events names the event bus the lifecycle events are published to.
type Events struct {
	BusName string // EVENT_BUS_NAME: a name, or a bus ARN
}

// LoadEvents reads the event bus's settings: EVENT_BUS_NAME.
func LoadEvents() (Events, error) { return OS.Events() }

// Events reads the event bus's settings from e.
func (e Env) Events() (Events, error) {
	ev := Events{BusName: e("EVENT_BUS_NAME")}
	switch {
	case ev.BusName == "":
		return ev, notSet("EVENT_BUS_NAME", "")
	case !eventBusName.MatchString(ev.BusName) && !strings.HasPrefix(ev.BusName, "arn:"):
		return ev, bad("EVENT_BUS_NAME", "is not an event bus name or ARN")
	}
	return ev, nil
}

// eventBusName is EventBridge's pattern for a bus name.
var eventBusName = regexp.MustCompile(`^[/\.\-_A-Za-z0-9]{1,256}$`)

func (e Env) stateMachine(variable string) (Workflow, error) {
	w := Workflow{StateMachineARN: e(variable)}
	if w.StateMachineARN == "" {
		return w, notSet(variable, "")
	}
	if !strings.HasPrefix(w.StateMachineARN, "arn:") || !strings.Contains(w.StateMachineARN, ":stateMachine:") {
		return w, bad(variable, "is not a state machine ARN")
	}
	return w, nil
}

func (e Env) or(name, def string) string {
	if v := e(name); v != "" {
		return v
	}
	return def
}

func (e Env) int(name string, def, lo, hi int) (int, error) {
	v := e(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, bad(name, "must be an integer between %d and %d", lo, hi)
	}
	return n, nil
}

func requireAddress(name, v string, required bool) error {
	if v == "" {
		if required {
			return notSet(name, "")
		}
		return nil
	}
	if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
		return bad(name, "must be a plain e-mail address")
	}
	return nil
}

func requireURL(name, v string) error {
	if v == "" {
		return notSet(name, "")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad(name, "must be an absolute http(s) URL")
	}
	return nil
}

// PassphraseLocal is a standalone network's passphrase (stellar/quickstart --local, and
// our Stellar RPC double); stellar/go/network exports the public networks' only.
const PassphraseLocal = "Standalone Network ; February 2017"

// passphrases are the networks SOROBAN_NETWORK may name. A passphrase also selects the
// network a signed transaction is valid on.
var passphrases = map[string]string{
	"mainnet": network.PublicNetworkPassphrase, "testnet": network.TestNetworkPassphrase,
	"futurenet": network.FutureNetworkPassphrase, "local": PassphraseLocal,
}

// NetworkPassphrase is the passphrase of a network SOROBAN_NETWORK may name.
func NetworkPassphrase(name string) (string, bool) {
	p, ok := passphrases[name]
	return p, ok
}

// Soroban holds what the contract deployment needs.
type Soroban struct {
	RPCURL     string // SOROBAN_RPC_URL
	Network    string // SOROBAN_NETWORK: mainnet, testnet, futurenet or local
	Passphrase string // derived from Network; SOROBAN_NETWORK_PASSPHRASE may restate it
	// DeployerSecretARN names the secret with the deployer account's seed
	// (DEPLOYER_SECRET_ARN). With APP_ENV=local, DeployerSeed (SOROBAN_DEPLOYER_SEED) may
	// stand in for it.
	DeployerSecretARN string
	DeployerSeed      string
	// The contract: a Wasm file to install (SOROBAN_WASM_PATH) or the hash of one already
	// installed on the network (SOROBAN_WASM_HASH, 64 hex digits). Neither: the tenant
	// anchor contract built into the binary.
	WasmPath string
	WasmHash string
	// ConfirmTimeout bounds the wait for a submitted transaction (SOROBAN_CONFIRM_TIMEOUT).
	ConfirmTimeout time.Duration
}

// LoadSoroban reads the Soroban settings. It refuses a configuration that points one
// network's passphrase at another network's well-known RPC host: a mainnet deployment must
// never be a typo away from testnet, or the reverse.
func LoadSoroban() (Soroban, error) { return OS.Soroban() }

// Soroban reads the Soroban settings from e.
func (e Env) Soroban() (Soroban, error) {
	s := Soroban{
		RPCURL:            e("SOROBAN_RPC_URL"),
		Network:           strings.ToLower(e("SOROBAN_NETWORK")),
		DeployerSecretARN: e("DEPLOYER_SECRET_ARN"),
		WasmPath:          e("SOROBAN_WASM_PATH"),
		WasmHash:          strings.ToLower(e("SOROBAN_WASM_HASH")),
		ConfirmTimeout:    60 * time.Second,
	}
	if err := requireURL("SOROBAN_RPC_URL", s.RPCURL); err != nil {
		return s, err
	}
	var ok bool
	if s.Passphrase, ok = passphrases[s.Network]; !ok {
		return s, bad("SOROBAN_NETWORK", "must be one of mainnet, testnet, futurenet, local")
	}
	if p := e("SOROBAN_NETWORK_PASSPHRASE"); p != "" && p != s.Passphrase {
		return s, bad("SOROBAN_NETWORK_PASSPHRASE", "is not the %s passphrase", s.Network)
	}
	host := strings.ToLower(s.RPCURL)
	for name, marker := range map[string]string{"testnet": "testnet", "futurenet": "futurenet", "mainnet": "mainnet"} {
		if name != s.Network && strings.Contains(host, marker) {
			return s, bad("SOROBAN_NETWORK", "is %s but SOROBAN_RPC_URL looks like a %s endpoint", s.Network, name)
		}
	}
	if s.Network == "mainnet" && (strings.Contains(host, "localhost") || strings.Contains(host, "127.0.0.1")) {
		return s, bad("SOROBAN_NETWORK", "is mainnet but SOROBAN_RPC_URL is a local endpoint")
	}
	switch {
	case s.DeployerSecretARN != "":
	case e.Local() && e("SOROBAN_DEPLOYER_SEED") != "":
		s.DeployerSeed = e("SOROBAN_DEPLOYER_SEED")
	default:
		return s, notSet("DEPLOYER_SECRET_ARN", "for local use set APP_ENV=local and SOROBAN_DEPLOYER_SEED")
	}
	if s.WasmHash != "" && !isHex(s.WasmHash, 64) {
		return s, bad("SOROBAN_WASM_HASH", "must be 64 hex digits")
	}
	if v := e("SOROBAN_CONFIRM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 10*time.Minute {
			return s, bad("SOROBAN_CONFIRM_TIMEOUT", "must be a duration between 1s and 10m")
		}
		s.ConfirmTimeout = d
	}
	return s, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// API holds the admin API's settings.
type API struct {
	// RequiredScope is the OAuth scope every route that changes something requires
	// (ADMIN_SCOPE, default tenants/admin); the HTTP API's JWT authorizer checks it first,
	// the handlers again.
	RequiredScope string
	// ReadScope lets a token call the routes that only read (GET), as the admin scope does
	// too (READ_SCOPE, default tenants/read): a dashboard holds it, not the admin scope.
	ReadScope string
}

// LoadAPI reads the admin API settings.
func LoadAPI() API { return OS.API() }

// API reads the admin API settings from e.
func (e Env) API() API {
	return API{RequiredScope: e.or("ADMIN_SCOPE", "tenants/admin"), ReadScope: e.or("READ_SCOPE", "tenants/read")}
}

// ErrNotSet is wrapped by the ConfigError of a variable that is not set, for a caller to
// tell an absent optional setting from a malformed one.
var ErrNotSet = errors.New("not set")

// notSet is the error for a required variable that is missing; hint says what to set.
func notSet(variable, hint string) error {
	msg := variable + " is not set"
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return &fault.ConfigError{Op: "config", Variable: variable, Msg: msg, Err: ErrNotSet}
}

// bad is the error for a variable that is missing or malformed: a ConfigError naming it,
// so a function that cannot start says which setting to fix (never its value).
func bad(variable, format string, args ...any) error {
	return &fault.ConfigError{Op: "config", Variable: variable, Msg: variable + " " + fmt.Sprintf(format, args...)}
}
