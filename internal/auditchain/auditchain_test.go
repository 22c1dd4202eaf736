package auditchain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

// trail is one test's audit trail: a scratch database, a signing key and an Object Lock
// bucket of its own in the emulator, and the sealer and verifier over them.
type trail struct {
	t        *testing.T
	pool     *pgxpool.Pool
	kms      *kms.Client
	s3       *s3.Client
	keyID    string
	bucket   string
	sealer   *auditchain.Sealer
	verifier *auditchain.Verifier
}

func newTrail(t *testing.T) *trail {
	t.Helper()
	cfg := awstest.Config(t)
	ac := awstest.NewAuditChain(t)
	tr := &trail{t: t, pool: testdb.New(t), kms: kms.NewFromConfig(cfg), s3: wiring.S3(cfg), keyID: ac.KeyID, bucket: ac.Bucket}
	st := store.New(tr.pool)
	tr.sealer = &auditchain.Sealer{Chain: st, Signer: tr.kms, Bucket: tr.s3, KeyID: tr.keyID, BucketName: tr.bucket, Log: slog.New(slog.DiscardHandler)}
	tr.verifier = &auditchain.Verifier{Chain: st, Keys: tr.kms, Bucket: tr.s3, KeyID: tr.keyID, BucketName: tr.bucket}
	return tr
}

// newKey makes an asymmetric signing key, as the template's AuditSigningKey is.
func (tr *trail) newKey() string {
	out, err := tr.kms.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		tr.t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// record appends n records in one transaction.
func (tr *trail) record(n int) {
	tr.t.Helper()
	if _, err := tr.pool.Exec(context.Background(), `INSERT INTO audit_records (actor, action, outcome, details)
		SELECT 'system:test', 'tenant.test', 'accepted', jsonb_build_object('n', i) FROM generate_series(1, $1) i`, n); err != nil {
		tr.t.Fatal(err)
	}
}

// seal runs the sealer until the chain's head reaches head: a transaction running anywhere
// in the cluster (another test's) holds the sealing back until it ends, as it should.
func (tr *trail) seal(head int64) auditchain.Result {
	tr.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := tr.sealer.Seal(context.Background(), auditchain.Input{})
		if err != nil {
			tr.t.Fatal(err)
		}
		if res.Head >= head {
			return res
		}
		if time.Now().After(deadline) {
			tr.t.Fatalf("the chain's head is %d, want %d", res.Head, head)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tamper runs statements as the database's owner with the append-only triggers off: what
// the grants and triggers refuse to every function.
func (tr *trail) tamper(stmts ...string) {
	tr.t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, tr.pool, func(tx pgx.Tx) error {
		for _, q := range append([]string{`ALTER TABLE audit_records DISABLE TRIGGER USER`, `ALTER TABLE audit_chain DISABLE TRIGGER USER`}, stmts...) {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *trail) verify(last int) auditchain.Report {
	tr.t.Helper()
	rep, err := tr.verifier.Verify(context.Background(), last)
	if err != nil {
		tr.t.Fatal(err)
	}
	return rep
}

func (tr *trail) object(key string) []byte {
	tr.t.Helper()
	out, err := tr.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(tr.bucket), Key: aws.String(key)})
	if err != nil {
		tr.t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

// Each run links what was committed and signs the head when it moved; the digests name
// one another, and the whole trail verifies, from the start or from a recent digest.
func TestTheSealerSignsTheHeadAndTheTrailVerifies(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	if rep := tr.verify(0); !rep.Verified || rep.Digests != 0 || rep.Head != 0 {
		t.Fatalf("an empty trail: %+v", rep)
	}
	tr.record(3)
	first := tr.seal(3)
	if first.Digest == "" {
		t.Fatalf("first seal: %+v, want a digest", first)
	}
	if again := tr.seal(3); again.Digest != "" || again.Sealed != 0 {
		t.Errorf("a seal with nothing new: %+v, want no digest", again)
	}
	tr.record(4)
	second := tr.seal(7)
	var obj auditchain.Object
	var d auditchain.Digest
	if err := json.Unmarshal(tr.object(second.Digest), &obj); err != nil || json.Unmarshal(obj.Digest, &d) != nil {
		t.Fatalf("digest object: %v", err)
	}
	if d.Head.Seq != 7 || d.Previous == nil || d.Previous.Key != first.Digest || obj.Signature.KeyID == "" {
		t.Errorf("second digest %+v, signed by %q: want head 7 naming %s", d, obj.Signature.KeyID, first.Digest)
	}
	tr.record(2) // recorded, not yet linked: no verification covers it until a seal
	if rep := tr.verify(0); !rep.Verified || rep.Digests != 2 || rep.From != 0 || rep.Head != 7 || rep.Unsigned != 0 {
		t.Errorf("verify all: %+v", rep)
	}
	if rep := tr.verify(1); !rep.Verified || rep.Digests != 1 || rep.From != 7 {
		t.Errorf("verify the newest digest: %+v, want the chain from link 7", rep)
	}
	// Linked but not yet signed: recomputed and counted.
	if _, err := store.New(tr.pool).SealAudit(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if rep := tr.verify(0); !rep.Verified || rep.Head < 7 || rep.Unsigned != rep.Head-7 {
		t.Errorf("verify with unsigned links: %+v", rep)
	}
	// The bucket keeps a digest for its retention: not even its writer deletes it.
	v, err := tr.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(tr.bucket), Key: aws.String(first.Digest)})
	if err != nil {
		t.Fatal(err)
	}
	if v.ObjectLockMode != s3types.ObjectLockModeCompliance {
		t.Errorf("digest's lock mode %q, want COMPLIANCE", v.ObjectLockMode)
	}
	if _, err := tr.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(tr.bucket), Key: aws.String(first.Digest), VersionId: v.VersionId}); err == nil {
		t.Error("a digest under compliance retention was deleted")
	}
}

// The verifier names each kind of tampering: with the records (edited, deleted, two
// re-ordered), with the chain (rewritten whole to agree with an edit), and with the
// digests (one forged with another key, one replaced by a new version).
func TestTheVerifierNamesTampering(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		tamper func(tr *trail)
		want   auditchain.Fault
	}{
		{"a record edited", func(tr *trail) {
			tr.tamper(`UPDATE audit_records SET outcome = 'refused' WHERE id = 4`)
		}, auditchain.Fault{Fault: "record altered or moved", Seq: 4, RecordID: ptr(4)}},
		{"a record deleted", func(tr *trail) {
			tr.tamper(`DELETE FROM audit_records WHERE id = 5`)
		}, auditchain.Fault{Fault: "record deleted", Seq: 5, RecordID: ptr(5)}},
		{"two records re-ordered", func(tr *trail) {
			tr.tamper(`UPDATE audit_records SET details = CASE id WHEN 6 THEN '{"n": 7}'::jsonb ELSE '{"n": 6}'::jsonb END WHERE id IN (6, 7)`)
		}, auditchain.Fault{Fault: "record altered or moved", Seq: 6, RecordID: ptr(6)}},
		{"the chain rewritten after an edit", func(tr *trail) {
			tr.tamper(`UPDATE audit_records SET actor = 'system:someone-else' WHERE id = 2`,
				`DELETE FROM audit_chain`, `SELECT audit_seal(1000)`)
		}, auditchain.Fault{Fault: auditchain.FaultMismatch, Seq: 5, Digest: "audit-digests/00000000000000000005.json"}},
		{"a digest forged with another key", func(tr *trail) {
			tr.sealer.KeyID = tr.newKey()
			tr.record(1)
			tr.seal(11)
		}, auditchain.Fault{Fault: auditchain.FaultSignature, Seq: 11, Digest: "audit-digests/00000000000000000011.json"}},
		{"a digest replaced by a new version", func(tr *trail) {
			key := "audit-digests/00000000000000000005.json"
			if _, err := tr.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(tr.bucket), Key: aws.String(key),
				Body: bytes.NewReader(tr.object(key)), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}); err != nil {
				tr.t.Fatal(err)
			}
		}, auditchain.Fault{Fault: auditchain.FaultReplaced, Digest: "audit-digests/00000000000000000005.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := newTrail(t)
			tr.record(5)
			tr.seal(5)
			tr.record(5)
			tr.seal(10)
			if rep := tr.verify(0); !rep.Verified {
				t.Fatalf("before tampering: %+v", rep)
			}
			c.tamper(tr)
			rep := tr.verify(0)
			if rep.Verified || rep.Fault == nil || !sameFault(*rep.Fault, c.want) {
				t.Errorf("verify: %+v, fault %+v; want %+v", rep, rep.Fault, c.want)
			}
		})
	}
}

func sameFault(got, want auditchain.Fault) bool {
	return got.Fault == want.Fault && got.Seq == want.Seq && got.Digest == want.Digest &&
		(got.RecordID == nil) == (want.RecordID == nil) && (got.RecordID == nil || *got.RecordID == *want.RecordID)
}

func ptr(n int64) *int64 { return &n }

// failingRecord stops the sealer between writing a digest and recording it, once.
type failingRecord struct {
	auditchain.Chain
	failed bool
}

func (f *failingRecord) RecordAuditDigest(ctx context.Context, d store.AuditDigest) error {
	if !f.failed {
		f.failed = true
		return &fault.TransientError{Op: "record audit digest", Msg: "connection lost"}
	}
	return f.Chain.RecordAuditDigest(ctx, d)
}

// A run stopped after writing its digest and before recording it: the next run records the
// object it finds rather than writing a second version, which the verifier would report.
func TestASealerStoppedAfterWritingItsDigestIsResumed(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	tr.sealer.Chain = &failingRecord{Chain: tr.sealer.Chain}
	tr.record(2)
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err = tr.sealer.Seal(context.Background(), auditchain.Input{}); err != nil {
			break
		}
	}
	if !fault.IsTransient(err) {
		t.Fatalf("the stopped run: %v, want its TransientError", err)
	}
	res := tr.seal(2)
	if res.Digest != "audit-digests/00000000000000000002.json" {
		t.Errorf("resumed run: %+v", res)
	}
	if rep := tr.verify(0); !rep.Verified || rep.Digests != 1 {
		t.Errorf("verify: %+v, fault %+v", rep, rep.Fault)
	}
}

// A key the sealer may not use, or one that is not a signing key, is a ConfigError: the
// deploy is wrong, and retrying will not mend it.
func TestAWrongKeyIsAConfigError(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	sym, err := tr.kms.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	tr.verifier.KeyID = aws.ToString(sym.KeyMetadata.KeyId)
	if _, err := tr.verifier.Verify(context.Background(), 0); !errors.As(err, new(*fault.ConfigError)) {
		t.Errorf("verify with a symmetric key: %v, want a ConfigError", err)
	}
	tr.sealer.KeyID = "alias/missing"
	tr.record(1)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err = tr.sealer.Seal(context.Background(), auditchain.Input{}); err != nil {
			break
		}
	}
	if !errors.As(err, new(*fault.ConfigError)) {
		t.Errorf("seal with a missing key: %v, want a ConfigError", err)
	}
}
