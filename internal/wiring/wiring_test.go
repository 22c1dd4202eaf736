package wiring

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/secrets"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// newDatabase is a fresh migrated database's URL, parsed.
func newDatabase(t *testing.T) *url.URL {
	t.Helper()
	_, dbURL := testdb.NewWithURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Deployed, the pool's credentials come from a Secrets Manager secret in RDS's shape, and
// a rotated secret is picked up by the next connection without a restart.
func TestPoolFromSecretFollowsRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newDatabase(t)
	awsCfg := awstest.Config(t)
	sm := secretsmanager.NewFromConfig(awsCfg)
	secret := func(user string) *string {
		b, _ := json.Marshal(map[string]any{"username": user, "password": "not-checked-by-trust-auth",
			"host": u.Hostname(), "port": u.Port(), "dbname": strings.TrimPrefix(u.Path, "/"), "engine": "postgres"})
		return aws.String(string(b))
	}
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(awstest.UniqueName("db")), SecretString: secret("rotated_away_role")})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := openPool(ctx, config.Database{SecretARN: *created.ARN, SSLMode: "disable", Port: 5432}, awsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err == nil || !strings.Contains(err.Error(), "28000") {
		t.Fatalf("ping with a role that does not exist: %v", err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretString: secret("postgres")}); err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	var db string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || "/"+db != u.Path {
		t.Errorf("connected to %q (%v), want %s from the secret", db, err, u.Path)
	}
}

func TestSecretDSN(t *testing.T) {
	t.Parallel()
	cfg := config.Database{Host: "env-host", Port: 5432, Name: "env-db", SSLMode: "verify-full", SSLRootCert: "/opt/rds ca.pem"}
	cases := []struct {
		name    string
		cfg     config.Database
		creds   secrets.DBCredentials
		want    string
		wantErr bool
	}{
		{"settings from env", cfg, secrets.DBCredentials{Username: "u", Password: secrets.NewValue("p")},
			"postgres://env-host:5432/env-db?sslmode=verify-full&sslrootcert=%2Fopt%2Frds+ca.pem", false},
		{"secret wins", cfg, secrets.DBCredentials{Host: "db.internal", Port: 6432, DBName: "app"},
			"postgres://db.internal:6432/app?sslmode=verify-full&sslrootcert=%2Fopt%2Frds+ca.pem", false},
		{"no host anywhere", config.Database{Port: 5432, Name: "x", SSLMode: "require"}, secrets.DBCredentials{}, "", true},
		{"through a proxy", config.Database{Host: "proxy.internal", Port: 5432, Name: "env-db", SSLMode: "verify-full", Proxy: true},
			secrets.DBCredentials{Host: "instance.internal", Port: 6432, DBName: "app"},
			"postgres://proxy.internal:5432/app?default_query_exec_mode=cache_describe&sslmode=verify-full&sslrootcert=system", false},
		{"through a proxy with a bundle", config.Database{Host: "proxy.internal", Port: 5432, Name: "env-db", SSLMode: "verify-full", SSLRootCert: "/opt/amazon.pem", Proxy: true},
			secrets.DBCredentials{},
			"postgres://proxy.internal:5432/env-db?default_query_exec_mode=cache_describe&sslmode=verify-full&sslrootcert=%2Fopt%2Famazon.pem", false},
		{"a proxy without its endpoint", config.Database{Port: 5432, Name: "x", SSLMode: "verify-full", Proxy: true},
			secrets.DBCredentials{Host: "instance.internal"}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := secretDSN(c.cfg, c.creds)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("secretDSN = %q, %v; want %q", got, err, c.want)
			}
			if strings.Contains(got, "p@") || strings.Contains(got, ":p") {
				t.Errorf("credentials in the DSN: %s", got)
			}
		})
	}
}

// Deployed, a function logs in as its own database user with an IAM authentication token
// signed for the endpoint and that user, made by the real SDK signer from the function's
// credentials; no password is configured anywhere. (The local server trusts the user and
// ignores the token; RDS or RDS Proxy checks it.)
func TestPoolLogsInAsItsUserWithAnIAMToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newDatabase(t)
	cfg := config.Database{User: string(catalog.APIReadUser), Host: u.Hostname(), Port: 5432, Name: strings.TrimPrefix(u.Path, "/"), SSLMode: "disable"}
	awsCfg := awstest.Config(t)

	_, token, err := iamToken(cfg, awsCfg)(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := url.Parse("https://" + token)
	if err != nil {
		t.Fatalf("token is not a presigned URL: %v", err)
	}
	q := signed.Query()
	if signed.Host != u.Hostname()+":5432" || q.Get("Action") != "connect" || q.Get("DBUser") != cfg.User || q.Get("X-Amz-Signature") == "" {
		t.Errorf("token for %s as %s: host %s, query %v", signed.Host, cfg.User, signed.Host, q)
	}

	pool, err := openPool(ctx, cfg, awsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var who string
	if err := pool.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != cfg.User {
		t.Errorf("logged in as %q (%v), want %s", who, err, cfg.User)
	}
}
