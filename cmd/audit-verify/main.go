// Command audit-verify checks the whole audit trail (`make audit-verify`): every signed
// digest in AUDIT_BUCKET, each with AUDIT_KEY_ID's public half, each the only version of
// its object and naming the one before it, each matching the chain's link it signed; then
// the whole hash chain in the control plane at DATABASE_URL against the records. It prints
// the report as JSON and exits 1 when the trail does not verify, naming the first fault.
//
// Against a deployed stack, DATABASE_URL is a read-only user's connection (tp_api_read
// holds every right this needs) and AUDIT_KEY_ID and AUDIT_BUCKET are the stack's
// AuditSigningKeyArn and AuditDigestBucketName outputs; the caller's AWS credentials need
// kms:GetPublicKey on the key and s3:ListBucketVersions and s3:GetObjectVersion on the bucket.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	ok, err := run(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit-verify:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context) (bool, error) {
	db, err := config.LoadDatabase()
	if err != nil {
		return false, err
	}
	ac, err := config.LoadAuditChain()
	if err != nil {
		return false, err
	}
	awsCfg, err := wiring.AWSConfig(ctx)
	if err != nil {
		return false, err
	}
	pool, err := database.Open(ctx, database.Config{DSN: db.URL, MaxConns: 1})
	if err != nil {
		return false, err
	}
	defer pool.Close()
	rep, err := wiring.AuditVerifier(awsCfg, ac, store.New(pool)).Verify(ctx, 0)
	if err != nil {
		return false, err
	}
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	return rep.Verified, nil
}
