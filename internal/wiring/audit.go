package wiring

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Auditor builds the audit sealer for its main.
func Auditor(id string) (*auditchain.Sealer, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*auditchain.Sealer, *pgxpool.Pool, error) {
		return NewAuditor(ctx, log, f)
	})
}

// NewAuditor reads the audit chain's settings (AUDIT_KEY_ID, AUDIT_BUCKET, both required),
// then builds the sealer of function f: the control plane as f's database user, KMS to
// sign and S3 to keep the digests.
func NewAuditor(ctx context.Context, log *slog.Logger, f catalog.Function) (*auditchain.Sealer, *pgxpool.Pool, error) {
	ac, err := config.LoadAuditChain()
	if err != nil {
		return nil, nil, err
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	pool, err := Pool(ctx, awsCfg, f.DBUser())
	if err != nil {
		return nil, nil, err
	}
	return &auditchain.Sealer{Chain: store.New(pool), Signer: kms.NewFromConfig(awsCfg), Bucket: S3(awsCfg),
		KeyID: ac.KeyID, BucketName: ac.Bucket, Log: log}, pool, nil
}

// AuditVerifier is the verifier of the audit chain kept where ac says, reading the chain
// through st.
func AuditVerifier(awsCfg aws.Config, ac config.AuditChain, st *store.Store) *auditchain.Verifier {
	return &auditchain.Verifier{Chain: st, Keys: kms.NewFromConfig(awsCfg), Bucket: S3(awsCfg), KeyID: ac.KeyID, BucketName: ac.Bucket}
}

// S3 is an S3 client; against an emulator (an endpoint of its own, AWS_ENDPOINT_URL) it
// addresses buckets by path, as an emulator on localhost has no bucket host names.
func S3(awsCfg aws.Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = o.BaseEndpoint != nil })
}
