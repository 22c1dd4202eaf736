package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

// countingAPI counts the requests that reach the real client; it does not alter them.
type countingAPI struct {
	api   API
	calls atomic.Int64
}

func (c *countingAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.api.GetSecretValue(ctx, in, optFns...)
}

func newClient(t *testing.T) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.NewFromConfig(awstest.Config(t))
}

// createSecret stores value under a fresh name and returns the name.
func createSecret(t *testing.T, client *secretsmanager.Client, value string) string {
	t.Helper()
	name := awstest.UniqueName("secrets-test")
	if _, err := client.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
	}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true),
		})
	})
	return name
}

func rotate(t *testing.T, client *secretsmanager.Client, id, value string) {
	t.Helper()
	if _, err := client.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(id), SecretString: aws.String(value),
	}); err != nil {
		t.Fatalf("put secret value: %v", err)
	}
}

// clock is a settable time source for Cache.now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestNewCacheTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ttl, want time.Duration
	}{
		{0, DefaultTTL},
		{-time.Second, DefaultTTL},
		{time.Second, time.Second},
	}
	for _, tt := range tests {
		if got := NewCache(nil, tt.ttl).ttl; got != tt.want {
			t.Errorf("NewCache(_, %v).ttl = %v, want %v", tt.ttl, got, tt.want)
		}
	}
}

func TestGetCachesForTTL(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	id := createSecret(t, client, "first-value")
	api := &countingAPI{api: client}
	const ttl = time.Minute
	c := NewCache(api, ttl)
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.now = clk.now

	steps := []struct {
		name      string
		advance   time.Duration
		invalid   bool
		wantCalls int64
	}{
		{name: "first read fetches", wantCalls: 1},
		{name: "within ttl is cached", advance: ttl - time.Nanosecond, wantCalls: 1},
		{name: "at ttl fetches again", advance: time.Nanosecond, wantCalls: 2},
		{name: "fresh again", advance: time.Second, wantCalls: 2},
		{name: "invalidate fetches", invalid: true, wantCalls: 3},
		{name: "cached after invalidate", wantCalls: 3},
	}
	for _, s := range steps {
		clk.t = clk.t.Add(s.advance)
		if s.invalid {
			c.Invalidate(id)
		}
		v, err := c.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("%s: Get: %v", s.name, err)
		}
		if v.Reveal() != "first-value" {
			t.Fatalf("%s: Get revealed the wrong value", s.name)
		}
		if got := api.calls.Load(); got != s.wantCalls {
			t.Fatalf("%s: %d requests, want %d", s.name, got, s.wantCalls)
		}
	}
}

func TestRefreshPicksUpRotation(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	id := createSecret(t, client, "before-rotation")
	api := &countingAPI{api: client}
	c := NewCache(api, time.Hour)

	steps := []struct {
		name      string
		call      func(context.Context, string) (Value, error)
		rotateTo  string
		want      string
		wantCalls int64
	}{
		{name: "get", call: c.Get, want: "before-rotation", wantCalls: 1},
		{name: "get after rotation is cached", rotateTo: "after-rotation", call: c.Get, want: "before-rotation", wantCalls: 1},
		{name: "refresh", call: c.Refresh, want: "after-rotation", wantCalls: 2},
		{name: "get serves refreshed", call: c.Get, want: "after-rotation", wantCalls: 2},
	}
	for _, s := range steps {
		if s.rotateTo != "" {
			rotate(t, client, id, s.rotateTo)
		}
		v, err := s.call(t.Context(), id)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if v.Reveal() != s.want {
			t.Fatalf("%s: revealed %q, want %q", s.name, v.Reveal(), s.want)
		}
		if got := api.calls.Load(); got != s.wantCalls {
			t.Fatalf("%s: %d requests, want %d", s.name, got, s.wantCalls)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	c := NewCache(client, 0)
	missing := awstest.UniqueName("secrets-test-missing")

	binary := awstest.UniqueName("secrets-test-binary")
	if _, err := client.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(binary), SecretBinary: []byte("binary-canary-bytes"),
	}); err != nil {
		t.Fatalf("create binary secret: %v", err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(binary), ForceDeleteWithoutRecovery: aws.Bool(true),
		})
	})

	tests := []struct {
		name     string
		call     func(ctx context.Context, id string) error
		id       string
		wantText string
	}{
		{name: "get missing", id: missing, wantText: missing, call: func(ctx context.Context, id string) error {
			_, err := c.Get(ctx, id)
			return err
		}},
		{name: "refresh missing", id: missing, wantText: missing, call: func(ctx context.Context, id string) error {
			_, err := c.Refresh(ctx, id)
			return err
		}},
		{name: "db credentials missing", id: missing, wantText: missing, call: func(ctx context.Context, id string) error {
			_, err := c.DBCredentials(ctx, id, false)
			return err
		}},
		{name: "binary secret", id: binary, wantText: "binary", call: func(ctx context.Context, id string) error {
			_, err := c.Get(ctx, id)
			return err
		}},
		{name: "empty id", id: "", wantText: "no secret id", call: func(ctx context.Context, id string) error {
			_, err := c.Get(ctx, id)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context(), tt.id)
			var ce *fault.ConfigError
			if !errors.As(err, &ce) || fault.Name(err) != "ConfigError" {
				t.Fatalf("error = %v (%s), want a *fault.ConfigError", err, fault.Name(err))
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
			if strings.Contains(fmt.Sprintf("%+v", err), "binary-canary") {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}

func TestDBCredentials(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	c := NewCache(client, 0)
	const pw = "pw-CANARY-7f3a9"

	tests := []struct {
		name    string
		content string
		want    DBCredentials // Password compared through Reveal
		wantErr string        // substring of the ConfigError message
	}{
		{
			name:    "rds rotation shape, port as number",
			content: `{"engine":"postgres","host":"db.example.internal","username":"app","password":"` + pw + `","dbname":"tenants","port":5432}`,
			want:    DBCredentials{Username: "app", Host: "db.example.internal", Port: 5432, DBName: "tenants", Engine: "postgres"},
		},
		{
			name:    "port as string",
			content: `{"username":"app","password":"` + pw + `","host":"db","port":"6432"}`,
			want:    DBCredentials{Username: "app", Host: "db", Port: 6432},
		},
		{
			name:    "rds-managed master secret: username and password only",
			content: `{"username":"postgres","password":"` + pw + `"}`,
			want:    DBCredentials{Username: "postgres"},
		},
		{name: "not json", content: "postgres://app:" + pw + "@db/tenants", wantErr: "not the expected database credentials JSON"},
		{name: "truncated json", content: `{"username":"app","password":"` + pw, wantErr: "not the expected database credentials JSON"},
		{name: "json array", content: `["app","` + pw + `"]`, wantErr: "not the expected database credentials JSON"},
		{name: "missing password", content: `{"username":"app","pass":"` + pw + `"}`, wantErr: "no password"},
		{name: "missing username", content: `{"user":"app","password":"` + pw + `"}`, wantErr: "no username"},
		{name: "password of the wrong type", content: `{"username":"app","password":7319024655}`, wantErr: "field password has the wrong type"},
		{name: "port out of range", content: `{"username":"app","password":"` + pw + `","port":"99999"}`, wantErr: "port is not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := createSecret(t, client, tt.content)
			got, err := c.DBCredentials(t.Context(), id, false)
			if tt.wantErr != "" {
				var ce *fault.ConfigError
				if !errors.As(err, &ce) || fault.Name(err) != "ConfigError" {
					t.Fatalf("error = %v, want a *fault.ConfigError", err)
				}
				msg := fmt.Sprintf("%v %+v", err, err)
				if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, id) {
					t.Errorf("error %q should say %q and name the secret", err, tt.wantErr)
				}
				for _, leak := range []string{pw, "7319024655", tt.content} {
					if strings.Contains(msg, leak) {
						t.Errorf("error %q repeats secret content", err)
					}
				}
				if errors.Unwrap(err) != nil {
					t.Errorf("error keeps a cause, which may quote the content: %v", errors.Unwrap(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("DBCredentials: %v", err)
			}
			if got.Password.Reveal() != pw {
				t.Errorf("password not read back")
			}
			got.Password = Value{}
			if got != tt.want {
				t.Errorf("DBCredentials = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDBCredentialsRefresh(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	id := createSecret(t, client, `{"username":"app","password":"old-pw"}`)
	api := &countingAPI{api: client}
	c := NewCache(api, time.Hour)

	steps := []struct {
		name      string
		refresh   bool
		rotateTo  string
		wantPW    string
		wantCalls int64
	}{
		{name: "read", wantPW: "old-pw", wantCalls: 1},
		{name: "cached after rotation", rotateTo: `{"username":"app","password":"new-pw"}`, wantPW: "old-pw", wantCalls: 1},
		{name: "refresh after refused login", refresh: true, wantPW: "new-pw", wantCalls: 2},
		{name: "cached again", wantPW: "new-pw", wantCalls: 2},
	}
	for _, s := range steps {
		if s.rotateTo != "" {
			rotate(t, client, id, s.rotateTo)
		}
		creds, err := c.DBCredentials(t.Context(), id, s.refresh)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if creds.Password.Reveal() != s.wantPW {
			t.Fatalf("%s: password %q, want %q", s.name, creds.Password.Reveal(), s.wantPW)
		}
		if got := api.calls.Load(); got != s.wantCalls {
			t.Fatalf("%s: %d requests, want %d", s.name, got, s.wantCalls)
		}
	}
}

// TestConcurrentUse is for the race detector: every path through the cache at once.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	id := createSecret(t, client, `{"username":"app","password":"same-pw"}`)
	c := NewCache(client, time.Hour)

	ops := []func() (string, error){
		func() (string, error) {
			v, err := c.Get(t.Context(), id)
			return v.Reveal(), err
		},
		func() (string, error) {
			creds, err := c.DBCredentials(t.Context(), id, false)
			return creds.Password.Reveal(), err
		},
		func() (string, error) {
			creds, err := c.DBCredentials(t.Context(), id, true)
			return creds.Password.Reveal(), err
		},
		func() (string, error) {
			c.Invalidate(id)
			v, err := c.Get(t.Context(), id)
			return v.Reveal(), err
		},
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			got, err := ops[i%len(ops)]()
			if err != nil {
				t.Error(err)
			} else if !strings.Contains(got, "same-pw") {
				t.Errorf("op %d read the wrong value", i%len(ops))
			}
		})
	}
	wg.Wait()
}

func TestClassify(t *testing.T) {
	t.Parallel()
	const id = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tenant-db-AbCdEf"
	const serviceMsg = "service message quoting CANARY-request-data"
	apiErr := func(code string, f smithy.ErrorFault) error {
		return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
			Err: &smithy.GenericAPIError{Code: code, Message: serviceMsg, Fault: f}}
	}
	deadline, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"not found", apiErr("ResourceNotFoundException", smithy.FaultClient), "ConfigError"},
		{"access denied", apiErr("AccessDeniedException", smithy.FaultClient), "ConfigError"},
		{"kms decryption", apiErr("DecryptionFailure", smithy.FaultClient), "ConfigError"},
		{"marked for deletion", apiErr("InvalidRequestException", smithy.FaultClient), "ConfigError"},
		{"invalid parameter", apiErr("InvalidParameterException", smithy.FaultClient), "ConfigError"},
		{"throttling", apiErr("ThrottlingException", smithy.FaultClient), "TransientError"},
		{"internal service error", apiErr("InternalServiceError", smithy.FaultServer), "TransientError"},
		{"context deadline", &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue", Err: deadline.Err()}, "TransientError"},
		{"unanticipated code", apiErr("SomethingNewException", smithy.FaultClient), "InvariantError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify("read secret "+id, tt.err)
			if got := fault.Name(err); got != tt.want {
				t.Fatalf("class = %s (%v), want %s", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "CANARY") {
				t.Errorf("message %q should name the secret and not repeat the service message", err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("cause not kept for errors.Is")
			}
		})
	}
}
