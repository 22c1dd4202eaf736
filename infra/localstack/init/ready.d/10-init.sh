#!/usr/bin/env bash
# Runs inside LocalStack once it is ready (compose.yaml mounts this folder on
# /etc/localstack/init/ready.d). It creates what the deployed functions read and that the
# SAM template does not create itself:
#   - the database credentials secret, in the JSON shape RDS writes, pointing at the compose
#     PostgreSQL (host "postgres" on the compose network);
#   - the Soroban deployer's secret, {"seed": "S…"}, from SOROBAN_DEPLOYER_SEED. LocalStack
#     cannot make Stellar keys: without that variable the secret holds a placeholder, and the
#     contract function cannot start until you set it (see the message below);
#   - the SES sender identity, verified (SES v1 and v2).
# Every step can run again: LocalStack may restart, and `make localstack-init` reruns it.
# AWSLOCAL overrides the CLI (default awslocal, inside LocalStack), e.g.
#   AWSLOCAL="aws --endpoint-url http://127.0.0.1:4566" infra/localstack/init/ready.d/10-init.sh
set -euo pipefail

read -r -a awscli <<<"${AWSLOCAL:-awslocal}"
region=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}
aws_() { "${awscli[@]}" --region "$region" "$@"; }

db_secret=${DB_SECRET_NAME:-tenant-provisioning/local/db}
deployer_secret=${DEPLOYER_SECRET_NAME:-tenant-provisioning/local/deployer}
sender=${SES_FROM_ADDRESS:-noreply@tenant-provisioning.localhost}

log() { printf 'tenant-provisioning init: %s\n' "$*" >&2; }

# put_secret NAME JSON: creates the secret, or stores a new version of it. The value goes
# through a private file, not the command line.
put_secret() {
  local name=$1 value=$2 file
  file=$(mktemp)
  chmod 600 "$file"
  printf '%s' "$value" >"$file"
  if aws_ secretsmanager describe-secret --secret-id "$name" >/dev/null 2>&1; then
    aws_ secretsmanager put-secret-value --secret-id "$name" --secret-string "file://$file" >/dev/null
  else
    aws_ secretsmanager create-secret --name "$name" --secret-string "file://$file" \
      --description "tenant-provisioning local stack (LocalStack)" >/dev/null
  fi
  rm -f "$file"
  aws_ secretsmanager describe-secret --secret-id "$name" --query ARN --output text
}

# JSON is built by Python (LocalStack's own runtime) so that no value needs escaping by hand.
db_json=$(python3 -c '
import json, os
print(json.dumps({
    "engine": "postgres",
    "host": os.environ.get("TP_DB_HOST", "postgres"),
    "port": int(os.environ.get("TP_DB_PORT", "5432")),
    "dbname": os.environ.get("TP_DB_NAME", "tenant_provisioning"),
    "username": os.environ.get("TP_DB_USER", "postgres"),
    "password": os.environ.get("TP_DB_PASSWORD", "postgres"),
}))')
db_arn=$(put_secret "$db_secret" "$db_json")
log "database secret: $db_arn"

if [[ -n ${SOROBAN_DEPLOYER_SEED:-} ]]; then
  if [[ ! $SOROBAN_DEPLOYER_SEED =~ ^S[A-Z2-7]{55}$ ]]; then
    log "SOROBAN_DEPLOYER_SEED is not a Stellar secret seed (S…, 56 characters)"
    exit 1
  fi
  deployer_json=$(python3 -c 'import json, os; print(json.dumps({"seed": os.environ["SOROBAN_DEPLOYER_SEED"]}))')
  deployer_arn=$(put_secret "$deployer_secret" "$deployer_json")
  log "deployer secret: $deployer_arn"
elif aws_ secretsmanager describe-secret --secret-id "$deployer_secret" >/dev/null 2>&1; then
  log "deployer secret kept as it is (SOROBAN_DEPLOYER_SEED is not set)"
else
  deployer_arn=$(put_secret "$deployer_secret" '{"seed": "REPLACE-with-a-Stellar-secret-seed"}')
  log "deployer secret: $deployer_arn holds a PLACEHOLDER: DeploySorobanContractFunction cannot start (invalid seed) until it is replaced."
  log "  Fix: make localstack-keys && make localstack-down localstack-up"
  log "  or:  awslocal secretsmanager put-secret-value --secret-id $deployer_secret --secret-string '{\"seed\":\"S...\"}'"
fi

# SES refuses to send from an unverified address; LocalStack verifies on request.
aws_ ses verify-email-identity --email-address "$sender" >/dev/null
if ! out=$(aws_ sesv2 create-email-identity --email-identity "$sender" 2>&1); then
  case $out in
    *AlreadyExists*) ;;
    *) log "sesv2 create-email-identity: $out"; exit 1 ;;
  esac
fi
log "SES sender verified: $sender"
