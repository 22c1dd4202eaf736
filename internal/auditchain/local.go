package auditchain

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// CreateLocal makes what the template makes for the audit trail, in an AWS API emulator
// (make dev, the tests): an asymmetric signing key (ECC_NIST_P256, SIGN_VERIFY) and the
// bucket called bucket under Object Lock, whose default retention is compliance mode for
// retentionDays (a day or so here, not the deployed years).
func CreateLocal(ctx context.Context, k *kms.Client, b *s3.Client, bucket string, retentionDays int32) (config.AuditChain, error) {
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify,
		Description: aws.String("Signs the local audit trail's digests")})
	if err != nil {
		return config.AuditChain{}, fault.FromAWS("create the audit signing key", err, nil)
	}
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		return config.AuditChain{}, fault.FromAWS("create the audit digest bucket", err, nil)
	}
	_, err = b.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String(bucket),
		ObjectLockConfiguration: &s3types.ObjectLockConfiguration{ObjectLockEnabled: s3types.ObjectLockEnabledEnabled,
			Rule: &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{Mode: s3types.ObjectLockRetentionModeCompliance, Days: aws.Int32(retentionDays)}}}})
	if err != nil {
		return config.AuditChain{}, fault.FromAWS("lock the audit digest bucket", err, nil)
	}
	return config.AuditChain{KeyID: aws.ToString(key.KeyMetadata.Arn), Bucket: bucket}, nil
}
