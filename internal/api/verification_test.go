package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

// An auditor with the read scope verifies the trail: signed and whole it verifies; with one
// record edited behind the triggers' back, the answer names that record.
func TestTheAuditTrailIsVerifiedThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, e.name("Verified"))
	cfg := awstest.Config(t)
	sealer := &auditchain.Sealer{Chain: store.New(e.pool), Signer: kms.NewFromConfig(cfg), Bucket: wiring.S3(cfg),
		KeyID: e.audit.KeyID, BucketName: e.audit.BucketName, Log: e.log}
	var records int64
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_records`).Scan(&records); err != nil || records == 0 {
		t.Fatalf("records to seal: %d, %v", records, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := sealer.Seal(ctx, auditchain.Input{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Head >= records {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sealed to %d of %d records", res.Head, records)
		}
	}
	read := func() auditchain.Report {
		req := request("GET", "/admin/audit/verification")
		req.RequestContext.Authorizer.JWT.Claims["scope"] = readScope
		var rep auditchain.Report
		e.do(t, nil, req).status(200).decode(&rep)
		return rep
	}
	if rep := read(); !rep.Verified || rep.Digests < 1 || rep.Head != records || rep.Unsigned != 0 {
		t.Fatalf("a signed, whole trail: %+v", rep)
	}
	var edited int64
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `ALTER TABLE audit_records DISABLE TRIGGER USER`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE audit_records SET user_agent = 'forged' WHERE id = (SELECT max(id) FROM audit_records) RETURNING id`).Scan(&edited)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := read()
	if rep.Verified || rep.Fault == nil || rep.Fault.Fault != "record altered or moved" || rep.Fault.RecordID == nil || *rep.Fault.RecordID != edited {
		t.Errorf("an edited record: %+v, fault %+v; want record %d named", rep, rep.Fault, edited)
	}
}
