package config

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stellar/go/network"
)

// Tests here set process environment, so they do not run in parallel.

func setenv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"APP_ENV", "DATABASE_URL", "DB_SECRET_ARN", "DB_HOST", "DB_PORT", "DB_NAME", "DB_SSLMODE",
		"DB_SSLROOTCERT", "DB_MAX_CONNS", "DB_PROXY", "SES_FROM_ADDRESS", "SES_CONFIGURATION_SET", "OPS_EMAIL", "APP_BASE_URL",
		"TENANT_URL_TEMPLATE", "ACTIVATION_TTL", "STATE_MACHINE_ARN"} {
		t.Setenv(k, env[k])
	}
}

func TestLoadDatabase(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		want    Database
	}{
		{"local url", map[string]string{"APP_ENV": "local", "DATABASE_URL": "postgres://h/db"}, "",
			Database{URL: "postgres://h/db", Port: 5432, SSLMode: "verify-full"}},
		{"local without url", map[string]string{"APP_ENV": "local"}, "DATABASE_URL is not set", Database{}},
		{"url outside local", map[string]string{"DATABASE_URL": "postgres://h/db"}, "only with APP_ENV=local", Database{}},
		{"nothing", nil, "DB_HOST is not set", Database{}},
		{"iam", map[string]string{"DB_HOST": "db.internal", "DB_NAME": "app"}, "",
			Database{Host: "db.internal", Name: "app", Port: 5432, SSLMode: "verify-full"}},
		{"iam without database", map[string]string{"DB_HOST": "db.internal"}, "DB_NAME is not set", Database{}},
		{"secret", map[string]string{"DB_SECRET_ARN": arn, "DB_HOST": "db.internal", "DB_NAME": "app", "DB_PORT": "6432", "DB_SSLROOTCERT": "/opt/rds.pem", "DB_MAX_CONNS": "3"}, "",
			Database{SecretARN: arn, Host: "db.internal", Name: "app", Port: 6432, SSLMode: "verify-full", SSLRootCert: "/opt/rds.pem", MaxConns: 3}},
		{"secret wins over url", map[string]string{"APP_ENV": "local", "DB_SECRET_ARN": arn, "DATABASE_URL": "postgres://h/db"}, "",
			Database{SecretARN: arn, Port: 5432, SSLMode: "verify-full"}},
		{"bad pool size", map[string]string{"DB_SECRET_ARN": arn, "DB_MAX_CONNS": "many"}, "DB_MAX_CONNS", Database{}},
		{"pool size out of range", map[string]string{"DB_SECRET_ARN": arn, "DB_MAX_CONNS": "0"}, "DB_MAX_CONNS", Database{}},
		{"bad port", map[string]string{"DB_SECRET_ARN": arn, "DB_PORT": "99999"}, "DB_PORT", Database{}},
		{"bad sslmode", map[string]string{"DB_SECRET_ARN": arn, "DB_SSLMODE": "yes"}, "DB_SSLMODE", Database{}},
		{"through a proxy", map[string]string{"DB_SECRET_ARN": arn, "DB_HOST": "proxy.internal", "DB_PROXY": "true"}, "",
			Database{SecretARN: arn, Host: "proxy.internal", Port: 5432, SSLMode: "verify-full", Proxy: true}},
		{"proxy off", map[string]string{"DB_SECRET_ARN": arn, "DB_PROXY": "false"}, "",
			Database{SecretARN: arn, Port: 5432, SSLMode: "verify-full"}},
		{"bad proxy switch", map[string]string{"DB_SECRET_ARN": arn, "DB_PROXY": "yes"}, "DB_PROXY", Database{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setenv(t, c.env)
			got, err := LoadDatabase()
			if refused(t, err, c.wantErr) {
				return
			}
			if err != nil || got != c.want {
				t.Errorf("LoadDatabase = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestLoadEmail(t *testing.T) {
	base := map[string]string{"SES_FROM_ADDRESS": "noreply@health.example", "APP_BASE_URL": "https://app.health.example/"}
	with := func(kv ...string) map[string]string { return overlay(base, kv...) }
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, e Email)
	}{
		{"defaults", base, "", func(t *testing.T, e Email) {
			if e.AppBaseURL != "https://app.health.example" || e.TenantURLTemplate != "https://app.health.example/t/{tenantId}" || e.ActivationTTL != 72*time.Hour {
				t.Errorf("%+v", e)
			}
		}},
		{"all set", with("SES_CONFIGURATION_SET", "prov", "OPS_EMAIL", "ops@health.example", "TENANT_URL_TEMPLATE", "https://{slug}.health.example", "ACTIVATION_TTL", "24h"), "", func(t *testing.T, e Email) {
			if e.ConfigurationSet != "prov" || e.OpsAddress != "ops@health.example" || e.TenantURLTemplate != "https://{slug}.health.example" || e.ActivationTTL != 24*time.Hour {
				t.Errorf("%+v", e)
			}
		}},
		{"no sender", with("SES_FROM_ADDRESS", ""), "SES_FROM_ADDRESS is not set", nil},
		{"sender with display name", with("SES_FROM_ADDRESS", "Health <noreply@health.example>"), "SES_FROM_ADDRESS", nil},
		{"no app url", with("APP_BASE_URL", ""), "APP_BASE_URL is not set", nil},
		{"relative app url", with("APP_BASE_URL", "/app"), "APP_BASE_URL must be", nil},
		// The activation page takes a password: https:// outside a developer machine.
		{"http app url deployed", with("APP_BASE_URL", "http://app.health.example"), "APP_BASE_URL must be an https:// URL", nil},
		{"http localhost deployed", with("APP_BASE_URL", "http://localhost:3000"), "APP_BASE_URL must be an https:// URL", nil},
		{"http app url, another APP_ENV", with("APP_BASE_URL", "http://app.health.example", "APP_ENV", "staging"), "APP_BASE_URL must be an https:// URL", nil},
		{"https in capitals", with("APP_BASE_URL", "HTTPS://app.health.example"), "", func(t *testing.T, e Email) {}},
		{"http localhost locally", with("APP_BASE_URL", "http://localhost:3000", "APP_ENV", "local"), "", func(t *testing.T, e Email) {
			if e.AppBaseURL != "http://localhost:3000" || e.TenantURLTemplate != "http://localhost:3000/t/{tenantId}" {
				t.Errorf("%+v", e)
			}
		}},
		{"https locally", with("APP_ENV", "local"), "", func(t *testing.T, e Email) {}},
		{"bad ops address", with("OPS_EMAIL", "ops"), "OPS_EMAIL", nil},
		{"bad ttl", with("ACTIVATION_TTL", "3 days"), "ACTIVATION_TTL", nil},
		{"ttl too short", with("ACTIVATION_TTL", "1m"), "ACTIVATION_TTL", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setenv(t, c.env)
			got, err := LoadEmail()
			if refused(t, err, c.wantErr) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, got)
		})
	}
}

// The local stack's e-mail settings default to a developer machine's: http://localhost is
// fine there, unless APP_ENV says the process is not local.
func TestLoadLocalEmail(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"APP_ENV set elsewhere", map[string]string{"APP_ENV": "staging"}, "APP_BASE_URL must be an https:// URL"},
		{"https from the environment", map[string]string{"APP_ENV": "staging", "APP_BASE_URL": "https://app.health.example"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			setenv(t, c.env)
			got, err := LoadLocalEmail("noreply@tenant-provisioning.localhost", "http://localhost:3000")
			if refused(t, err, c.wantErr) {
				return
			}
			if err != nil || got.From != "noreply@tenant-provisioning.localhost" {
				t.Errorf("LoadLocalEmail = %+v, %v", got, err)
			}
		})
	}
}

func TestLoadWorkflow(t *testing.T) {
	for _, c := range []struct{ arn, wantErr string }{
		{"arn:aws:states:us-east-1:123456789012:stateMachine:tenant-provisioning", ""},
		{"", "STATE_MACHINE_ARN is not set"},
		{"tenant-provisioning", "not a state machine ARN"},
	} {
		setenv(t, map[string]string{"STATE_MACHINE_ARN": c.arn})
		got, err := LoadWorkflow()
		if c.wantErr == "" && (err != nil || got.StateMachineARN != c.arn) {
			t.Errorf("%q: %+v %v", c.arn, got, err)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%q: err = %v, want %s", c.arn, err, c.wantErr)
		}
	}
}

func TestLoadSoroban(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:deployer-AbCdEf"
	hash := strings.Repeat("ab", 32)
	base := map[string]string{"SOROBAN_RPC_URL": "https://soroban-testnet.stellar.org", "SOROBAN_NETWORK": "testnet",
		"DEPLOYER_SECRET_ARN": arn, "SOROBAN_WASM_HASH": hash}
	with := func(kv ...string) map[string]string { return overlay(base, kv...) }
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"testnet", base, ""},
		{"passphrase restated", with("SOROBAN_NETWORK_PASSPHRASE", network.TestNetworkPassphrase), ""},
		{"local network with a local seed", with("SOROBAN_NETWORK", "local", "SOROBAN_RPC_URL", "http://127.0.0.1:8000", "APP_ENV", "local",
			"DEPLOYER_SECRET_ARN", "", "SOROBAN_DEPLOYER_SEED", "SXXX"), ""},
		{"wasm path instead of hash", with("SOROBAN_WASM_HASH", "", "SOROBAN_WASM_PATH", "contracts/anchor.wasm"), ""},
		{"mainnet passphrase on a testnet url", with("SOROBAN_NETWORK", "mainnet"), "looks like a testnet endpoint"},
		{"testnet on a mainnet url", with("SOROBAN_RPC_URL", "https://rpc.mainnet.example"), "looks like a mainnet endpoint"},
		{"mainnet on localhost", with("SOROBAN_NETWORK", "mainnet", "SOROBAN_RPC_URL", "http://localhost:8000"), "local endpoint"},
		{"passphrase contradicts network", with("SOROBAN_NETWORK_PASSPHRASE", network.PublicNetworkPassphrase), "not the testnet passphrase"},
		{"unknown network", with("SOROBAN_NETWORK", "moon"), "SOROBAN_NETWORK must be"},
		{"no rpc url", with("SOROBAN_RPC_URL", ""), "SOROBAN_RPC_URL is not set"},
		{"seed outside local", with("DEPLOYER_SECRET_ARN", "", "SOROBAN_DEPLOYER_SEED", "SXXX"), "DEPLOYER_SECRET_ARN is not set"},
		{"bundled contract", with("SOROBAN_WASM_HASH", ""), ""},
		{"bad hash", with("SOROBAN_WASM_HASH", "abc"), "64 hex digits"},
		{"bad timeout", with("SOROBAN_CONFIRM_TIMEOUT", "forever"), "SOROBAN_CONFIRM_TIMEOUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setenv(t, c.env)
			for _, k := range []string{"SOROBAN_RPC_URL", "SOROBAN_NETWORK", "SOROBAN_NETWORK_PASSPHRASE", "DEPLOYER_SECRET_ARN",
				"SOROBAN_DEPLOYER_SEED", "SOROBAN_WASM_PATH", "SOROBAN_WASM_HASH", "SOROBAN_CONFIRM_TIMEOUT"} {
				t.Setenv(k, c.env[k])
			}
			got, err := LoadSoroban()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "SXXX") {
					t.Fatalf("err = %v, want it to mention %q (and never the seed)", err, c.wantErr)
				}
				return
			}
			if err != nil || got.Passphrase == "" || got.ConfirmTimeout != time.Minute {
				t.Errorf("LoadSoroban = %+v, %v", got, err)
			}
		})
	}
}

// overlay is base with the name/value pairs kv set on top.
func overlay(base map[string]string, kv ...string) map[string]string {
	m := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// refused reports whether a case wants an error (wantErr non-empty), failing the test
// unless err is one that mentions wantErr; such a case has nothing more to check.
func refused(t *testing.T, err error, wantErr string) bool {
	t.Helper()
	if wantErr == "" {
		return false
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("err = %v, want it to mention %s", err, wantErr)
	}
	return true
}
