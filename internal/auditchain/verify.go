package auditchain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// PublicKeys reads the signing key's public half (kms.Client).
type PublicKeys interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// Reader lists and reads the digest objects, every version of them (s3.Client).
type Reader interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Verifier checks the signed digests against the chain and the chain against the records.
type Verifier struct {
	Chain             Chain
	Keys              PublicKeys
	Bucket            Reader
	KeyID, BucketName string
}

// The faults the verifier names, beyond the chain's own (store.AuditFault: "link missing",
// "record deleted", "record altered or moved").
const (
	FaultSignature = "digest signature does not verify"
	FaultReplaced  = "digest replaced or deleted"         // a second version or a delete marker
	FaultDigests   = "digest chain broken"                // a digest's previous is not the object before it
	FaultMismatch  = "chain does not match signed digest" // the link a digest signed was rewritten
)

// Fault is the first thing found that does not hold: a digest (by its object key) or a
// link of the chain and the record there.
type Fault struct {
	Fault    string `json:"fault"`
	Seq      int64  `json:"seq,omitempty"`
	RecordID *int64 `json:"recordId,omitempty"`
	Digest   string `json:"digest,omitempty"`
}

// Report is a verification's outcome.
type Report struct {
	Verified bool `json:"verified"`
	// Digests checked, and the links of the chain recomputed: from the oldest digest
	// checked (trusted once its signature and link hold) to the head.
	Digests int   `json:"digests"`
	From    int64 `json:"fromSeq"`
	Head    int64 `json:"headSeq"`
	// Unsigned is how many links follow the newest digest: recomputed, not yet signed.
	Unsigned int64  `json:"unsignedLinks"`
	Fault    *Fault `json:"fault,omitempty"`
}

// digestObject is one digest object in the bucket: its key and the version the sealer
// wrote (the oldest).
type digestObject struct {
	key, version string
	seq          int64
}

// Verify checks the newest last digests (every digest when last is 0) and the chain from
// the oldest of them to the head: each digest's signature with the key's public half, that
// it is the only version of its object, that it names the digest before it, and that the
// link it signed is the chain's; then every link after it, against the records. It stops at
// the first fault and names it.
func (v *Verifier) Verify(ctx context.Context, last int) (Report, error) {
	var rep Report
	objects, replaced, err := v.list(ctx)
	if err != nil {
		return rep, err
	}
	if replaced != "" {
		return faulted(rep, &Fault{Fault: FaultReplaced, Digest: replaced}), nil
	}
	key, err := v.publicKey(ctx)
	if err != nil {
		return rep, err
	}
	start := 0
	if last > 0 && len(objects) > last {
		start = len(objects) - last
	}
	from := store.AuditLink{Hash: make([]byte, 32)}
	var prev []byte // the bytes of the digest object before the one checked
	if start > 0 {
		if prev, err = v.get(ctx, objects[start-1]); err != nil {
			return rep, err
		}
	}
	for i := start; i < len(objects); i++ {
		o := objects[i]
		body, err := v.get(ctx, o)
		if err != nil {
			return rep, err
		}
		d, f := check(body, key, o)
		if f == nil {
			f = linked(d, objects, i, prev)
		}
		if f == nil {
			f, err = v.matches(ctx, d, o)
			if err != nil {
				return rep, err
			}
		}
		if f != nil {
			return faulted(rep, f), nil
		}
		if i == start && start > 0 {
			// The links before it were checked by earlier verifications, and this digest
			// vouches for them: the chain is recomputed from the link it signed.
			from = store.AuditLink{Seq: o.seq, Hash: mustHex(d.Head.Hash)}
		}
		rep.Digests++
		prev = body
	}
	head, err := v.Chain.AuditHead(ctx)
	if err != nil {
		return rep, err
	}
	rep.From, rep.Head = from.Seq, head.Seq
	if n := len(objects); n > 0 {
		rep.Unsigned = head.Seq - objects[n-1].seq
	} else {
		rep.Unsigned = head.Seq
	}
	cf, err := v.Chain.VerifyAuditAfter(ctx, from)
	if err != nil {
		return rep, err
	}
	if cf != nil {
		return faulted(rep, &Fault{Fault: cf.Fault, Seq: cf.Seq, RecordID: cf.RecordID}), nil
	}
	rep.Verified = true
	return rep, nil
}

// faulted is rep naming its first fault.
func faulted(rep Report, f *Fault) Report {
	rep.Fault = f
	return rep
}

// check parses a digest object and verifies its signature; a fault when either fails or
// the digest signs another head than its key names.
func check(body []byte, key *ecdsa.PublicKey, o digestObject) (Digest, *Fault) {
	var obj Object
	var d Digest
	bad := &Fault{Fault: FaultSignature, Digest: o.key, Seq: o.seq}
	if json.Unmarshal(body, &obj) != nil || obj.Signature.Algorithm != Algorithm || json.Unmarshal(obj.Digest, &d) != nil {
		return d, bad
	}
	if !ecdsa.VerifyASN1(key, sha256Of(obj.Digest), obj.Signature.Value) || d.Head.Seq != o.seq {
		return d, bad
	}
	return d, nil
}

// linked checks that digest d, objects[i], names the object before it (prev's bytes), or
// nothing when it is the first.
func linked(d Digest, objects []digestObject, i int, prev []byte) *Fault {
	broken := &Fault{Fault: FaultDigests, Digest: objects[i].key, Seq: objects[i].seq}
	if i == 0 {
		if d.Previous != nil {
			return broken // the digest before it is gone
		}
		return nil
	}
	if d.Previous == nil || d.Previous.Key != objects[i-1].key || d.Previous.SHA256 != hex.EncodeToString(sha256Of(prev)) {
		return broken
	}
	return nil
}

// matches checks that the chain's link at the digest's head is the link it signed.
func (v *Verifier) matches(ctx context.Context, d Digest, o digestObject) (*Fault, error) {
	link, ok, err := v.Chain.AuditLinkAt(ctx, d.Head.Seq)
	if err != nil {
		return nil, err
	}
	if !ok || !bytes.Equal(link.Hash, mustHex(d.Head.Hash)) {
		return &Fault{Fault: FaultMismatch, Seq: d.Head.Seq, Digest: o.key}, nil
	}
	return nil, nil
}

// list is every digest object in chain order, each at its oldest version; replaced names
// the first object with a later version or a delete marker, which the sealer never makes.
func (v *Verifier) list(ctx context.Context) (objects []digestObject, replaced string, err error) {
	versions := map[string]int{}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(v.BucketName), Prefix: aws.String(Prefix)}
	for {
		out, err := v.Bucket.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, "", fault.FromAWS("list audit digests", err, s3Codes)
		}
		for _, m := range out.DeleteMarkers {
			if replaced == "" {
				replaced = aws.ToString(m.Key)
			}
		}
		for _, ov := range out.Versions {
			k := aws.ToString(ov.Key)
			seq, ok := seqOf(k)
			if !ok {
				continue // not a digest: the bucket holds nothing else, but a stray object proves nothing
			}
			if versions[k]++; versions[k] > 1 && replaced == "" {
				replaced = k
			}
			// Versions come newest first: the last one seen of a key is its oldest.
			if n := len(objects); n > 0 && objects[n-1].key == k {
				objects[n-1].version = aws.ToString(ov.VersionId)
				continue
			}
			objects = append(objects, digestObject{key: k, version: aws.ToString(ov.VersionId), seq: seq})
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	slices.SortFunc(objects, func(a, b digestObject) int { return int(a.seq - b.seq) })
	return objects, replaced, nil
}

// get reads one digest object at the version the sealer wrote.
func (v *Verifier) get(ctx context.Context, o digestObject) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(v.BucketName), Key: aws.String(o.key)}
	if o.version != "" && o.version != "null" {
		in.VersionId = aws.String(o.version)
	}
	out, err := v.Bucket.GetObject(ctx, in)
	if err != nil {
		return nil, fault.FromAWS("read audit digest", err, s3Codes)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, fault.FromAWS("read audit digest", err, s3Codes)
}

// publicKey is the signing key's public half, from KMS.
func (v *Verifier) publicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	out, err := v.Keys.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(v.KeyID)})
	if err != nil {
		return nil, fault.FromAWS("read audit signing key", err, kmsCodes)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	key, ok := pub.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return nil, &fault.ConfigError{Op: "read audit signing key", Msg: fmt.Sprintf("key %s is not an ECC signing key", v.KeyID)}
	}
	return key, nil
}

// mustHex decodes a hash the verifier has checked the signature of; a malformed one
// decodes to nothing, which matches no link.
func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
