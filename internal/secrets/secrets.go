// Package secrets reads AWS Secrets Manager secrets for the functions and keeps them in a
// short-lived per-container cache, so warm invocations skip the API call yet pick up a
// rotation within the TTL (or at once through Refresh). Values are redacted everywhere but
// Reveal, because healthcare audits look for secrets in logs, errors and output.
package secrets

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// DefaultTTL bounds how long a rotated secret can go unnoticed by Get; Refresh closes the
// gap when a login fails first.
const DefaultTTL = 5 * time.Minute

// API is the part of *secretsmanager.Client the cache uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// errorKinds classifies the Secrets Manager errors that mean the function's configuration
// is wrong (secret id, IAM policy, KMS key, secret scheduled for deletion): retrying will
// not fix them. Throttling and service faults stay transient through fault.FromAWS.
var errorKinds = map[string]fault.Kind{
	"ResourceNotFoundException": fault.KindConfig,
	"AccessDeniedException":     fault.KindConfig,
	"DecryptionFailure":         fault.KindConfig,
	"InvalidRequestException":   fault.KindConfig,
	"InvalidParameterException": fault.KindConfig,
}

// Cache serves secret values from memory for up to its TTL. It is safe for concurrent use.
// Concurrent Gets of an entry that is missing both fetch it: a Lambda container runs one
// invocation at a time, so that costs at most an extra request now and then.
type Cache struct {
	api API
	ttl time.Duration
	now func() time.Time // replaced by tests to move time

	mu      sync.Mutex
	seq     uint64 // orders fetches and invalidations, see entry.seq
	entries map[string]entry
}

type entry struct {
	val Value
	at  time.Time // when the fetch that produced val started
	// seq lets a write happen only if nothing newer (a Refresh, an Invalidate) started
	// after the fetch that made it: otherwise a slow Get could bring back the secret from
	// before a rotation.
	seq   uint64
	valid bool // false after Invalidate
}

// NewCache returns a cache reading through api; ttl <= 0 means DefaultTTL.
func NewCache(api API, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache{api: api, ttl: ttl, now: time.Now, entries: make(map[string]entry)}
}

// Get returns the secret's current string value, from the cache while it is younger than
// the TTL.
func (c *Cache) Get(ctx context.Context, secretID string) (Value, error) {
	c.mu.Lock()
	e := c.entries[secretID]
	fresh := e.valid && c.now().Sub(e.at) < c.ttl
	c.mu.Unlock()
	if fresh {
		return e.val, nil
	}
	return c.fetch(ctx, secretID)
}

// Refresh reads the secret now and replaces the cached entry: for after the secret was
// refused (an authentication failure), which usually means it has been rotated.
func (c *Cache) Refresh(ctx context.Context, secretID string) (Value, error) {
	return c.fetch(ctx, secretID)
}

// Invalidate drops the cached entry, so the next Get fetches.
func (c *Cache) Invalidate(secretID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.entries[secretID] = entry{seq: c.seq}
}

func (c *Cache) fetch(ctx context.Context, secretID string) (Value, error) {
	op := "read secret " + secretID
	if secretID == "" {
		// The SDK would reject it as a parameter error, which FromAWS counts as transport.
		return Value{}, &fault.ConfigError{Op: "read secret", Msg: "no secret id configured"}
	}

	c.mu.Lock()
	c.seq++
	seq, started := c.seq, c.now()
	c.mu.Unlock()

	out, err := c.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return Value{}, classify(op, err)
	}
	if out.SecretString == nil {
		return Value{}, &fault.ConfigError{Op: op, Msg: "secret holds binary data, not a string"}
	}
	v := NewValue(*out.SecretString)

	c.mu.Lock()
	if cur, ok := c.entries[secretID]; !ok || cur.seq < seq {
		c.entries[secretID] = entry{val: v, at: started, seq: seq, valid: true}
	}
	c.mu.Unlock()
	return v, nil
}

func classify(op string, err error) error { return fault.FromAWS(op, err, errorKinds) }
