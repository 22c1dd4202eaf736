package auditchain

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Chain is the database's side of the chain, as the sealer and the verifier use it.
type Chain interface {
	SealAudit(ctx context.Context, limit int) (int, error)
	AuditHead(ctx context.Context) (store.AuditLink, error)
	AuditLinkAt(ctx context.Context, seq int64) (store.AuditLink, bool, error)
	LastAuditDigest(ctx context.Context) (store.AuditDigest, bool, error)
	RecordAuditDigest(ctx context.Context, d store.AuditDigest) error
	VerifyAuditAfter(ctx context.Context, from store.AuditLink) (*store.AuditFault, error)
}

// Signer signs with the KMS key (kms.Client).
type Signer interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
}

// Writer writes and reads back digest objects (s3.Client).
type Writer interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Sealer links committed audit records into the chain and signs the chain's head, on a
// schedule (the catalogue's SealAuditFunction).
type Sealer struct {
	Chain  Chain
	Signer Signer
	Bucket Writer
	// KeyID is the KMS key's id or ARN (AUDIT_KEY_ID); BucketName the Object Lock bucket
	// (AUDIT_BUCKET), whose default retention keeps every object in compliance mode.
	KeyID, BucketName string
	Log               *slog.Logger
	Now               func() time.Time // time.Now unless set
}

// The services' errors that only a change of configuration mends: a key or bucket missing,
// disabled or not granted to the function.
var (
	kmsCodes = map[string]fault.Kind{"NotFoundException": fault.KindConfig, "DisabledException": fault.KindConfig,
		"KMSInvalidStateException": fault.KindConfig, "AccessDeniedException": fault.KindConfig, "InvalidKeyUsageException": fault.KindConfig}
	s3Codes = map[string]fault.Kind{"NoSuchBucket": fault.KindConfig, "AccessDenied": fault.KindConfig}
)

// sealBatch is how many records one audit_seal call links: one transaction, short enough
// to hold the sealer's lock briefly, long enough that a busy hour is a few calls.
const sealBatch = 5000

// Input is the schedule's (empty) event.
type Input struct{}

// Result says what one run did: records linked, the head, and the digest written (none
// when the head had not moved since the last one).
type Result struct {
	Sealed int    `json:"sealed"`
	Head   int64  `json:"head"`
	Digest string `json:"digest,omitempty"`
}

// Seal links every record that can be linked, then signs the head when it moved. A run
// stopped at its deadline leaves the rest to the next; a digest written but not recorded
// (the run stopped in between) is recorded by the next run rather than written again, as
// the bucket keeps the first version of an object for its whole retention.
func (s *Sealer) Seal(ctx context.Context, _ Input) (Result, error) {
	var res Result
	for {
		n, err := s.Chain.SealAudit(ctx, sealBatch)
		if err != nil {
			return res, err
		}
		res.Sealed += n
		if n < sealBatch || ctx.Err() != nil {
			break
		}
	}
	head, err := s.Chain.AuditHead(ctx)
	if err != nil {
		return res, err
	}
	res.Head = head.Seq
	last, hasLast, err := s.Chain.LastAuditDigest(ctx)
	if err != nil || head.Seq == 0 || (hasLast && last.Link.Seq >= head.Seq) {
		return res, err
	}
	key := objectKey(head.Seq)
	body, err := s.existing(ctx, key)
	if err != nil {
		return res, err
	}
	if body == nil {
		if body, err = s.sign(ctx, head, last, hasLast); err != nil {
			return res, err
		}
		if err := s.put(ctx, key, body); err != nil {
			return res, err
		}
	}
	signed := s.now()
	if err := s.Chain.RecordAuditDigest(ctx, store.AuditDigest{Link: head, Key: key, SHA256: sha256Of(body), SignedAt: signed}); err != nil {
		return res, err
	}
	res.Digest = key
	s.Log.InfoContext(ctx, "audit chain signed", "head", head.Seq, "sealed", res.Sealed, "digest", key)
	return res, nil
}

// sign makes the digest object of head, naming the last digest.
func (s *Sealer) sign(ctx context.Context, head store.AuditLink, last store.AuditDigest, hasLast bool) ([]byte, error) {
	d := Digest{Version: 1, Head: Link{Seq: head.Seq, Hash: hex.EncodeToString(head.Hash)}, SignedAt: s.now().UTC()}
	if hasLast {
		d.Previous = &Previous{Key: last.Key, SHA256: hex.EncodeToString(last.SHA256)}
	}
	msg, err := json.Marshal(d)
	if err != nil {
		return nil, &fault.InvariantError{Op: "sign audit digest", Msg: err.Error()}
	}
	out, err := s.Signer.Sign(ctx, &kms.SignInput{KeyId: aws.String(s.KeyID), Message: msg,
		MessageType: kmstypes.MessageTypeRaw, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		return nil, fault.FromAWS("sign audit digest", err, kmsCodes)
	}
	return json.Marshal(Object{Digest: msg, Signature: Signature{KeyID: aws.ToString(out.KeyId), Algorithm: Algorithm, Value: out.Signature}})
}

// put writes a digest object. Its retention is the bucket's default (compliance mode), so
// the sealer needs no right to set or shorten one.
func (s *Sealer) put(ctx context.Context, key string, body []byte) error {
	_, err := s.Bucket.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.BucketName), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String("application/json"),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}) // Object Lock wants a checksum on every write
	return fault.FromAWS("write audit digest", err, s3Codes)
}

// existing is the digest object at key when an earlier run wrote it, or nil.
func (s *Sealer) existing(ctx context.Context, key string) ([]byte, error) {
	out, err := s.Bucket.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.BucketName), Key: aws.String(key)})
	if _, missing := errors.AsType[*s3types.NoSuchKey](err); missing {
		return nil, nil
	}
	if err != nil {
		return nil, fault.FromAWS("read audit digest", err, s3Codes)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, fault.FromAWS("read audit digest", err, s3Codes)
}

func (s *Sealer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
