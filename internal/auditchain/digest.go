// Package auditchain signs the audit trail's hash chain and verifies it. The chain itself is
// the database's (migrations 014 and 015: audit_seal links committed records in order,
// audit_verify_after recomputes links); this package takes it out of the database's reach:
// a scheduled sealer signs the chain's head with an asymmetric AWS KMS key and writes the
// signed digest to an S3 bucket under Object Lock in compliance mode, and the verifier
// checks those digests with the key's public half against the chain, and the chain against
// the records. Someone able to rewrite the database, records, links and hashes alike, still
// cannot make the chain agree with digests signed before the rewrite.
//
// The digests chain like CloudTrail's: each names the object of the one before it by key
// and SHA-256, so a digest removed from the middle is found too.
package auditchain

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Prefix is where the digests are in the bucket; one object per signed head, named by the
// head's position so that a listing is in chain order.
const Prefix = "audit-digests/"

// Algorithm is the KMS signing algorithm of the digests: ECDSA on P-256 with SHA-256 (the
// key spec ECC_NIST_P256). KMS hashes the message itself (MessageType RAW).
const Algorithm = "ECDSA_SHA_256"

// objectKey is the digest object of the head at seq.
func objectKey(seq int64) string { return fmt.Sprintf("%s%020d.json", Prefix, seq) }

// seqOf is the head position a digest object's key names; ok is false for a key that is
// not a digest's.
func seqOf(key string) (int64, bool) {
	name, found := strings.CutPrefix(key, Prefix)
	name, isJSON := strings.CutSuffix(name, ".json")
	if !found || !isJSON || len(name) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseInt(name, 10, 64)
	return seq, err == nil && seq > 0
}

// Digest is what is signed: the chain's head and the digest before this one.
type Digest struct {
	Version  int       `json:"version"`
	Head     Link      `json:"head"`
	Previous *Previous `json:"previous"` // null for the first digest
	SignedAt time.Time `json:"signedAt"`
}

// Link is a position in the chain and the link's hash there, in hex.
type Link struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Previous names the digest object before this one: its key and the SHA-256 of its bytes.
type Previous struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// Object is a digest object's content: the digest's exact signed bytes and the signature.
type Object struct {
	Digest    json.RawMessage `json:"digest"`
	Signature Signature       `json:"signature"`
}

// Signature is a digest's signature: which key, which algorithm, and the DER-encoded
// ECDSA signature, base64 (standard encoding).
type Signature struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	Value     []byte `json:"value"`
}

// sha256Of is the SHA-256 of b.
func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
