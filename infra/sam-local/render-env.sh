#!/usr/bin/env bash
# Writes the --env-vars file the sam-local-* make targets pass to `sam local`: a copy of
# infra/sam-local/env.json (which is committed and carries no secret) with what only your
# machine knows filled in. Run from the repository root:
#   infra/sam-local/render-env.sh [OUT]      (default .local/sam-local/env.json, mode 600)
# From the environment, or from infra/localstack/.env (`make localstack-keys`):
#   SOROBAN_DEPLOYER_SEED  the deployer's secret seed, replacing the placeholder
#   STATE_MACHINE_ARN      the state machine the API functions start, replacing the example
#                          ARN; by default the StateMachineArn output of the stack
#                          `make localstack-deploy` made (LOCALSTACK_STACK_NAME), if there is one
#   UPGRADE_STATE_MACHINE_ARN  the upgrade state machine StartUpgradeFunction starts, likewise
#                          (the stack's UpgradeStateMachineArn output)
#   AUDIT_KEY_ID, AUDIT_BUCKET  the audit trail's signing key and digest bucket, likewise
#                          (AuditSigningKeyArn, AuditDigestBucketName)
#   SAM_DOCKER_NETWORK     when set (tenant-provisioning-local, the compose network), the
#                          functions reach PostgreSQL, LocalStack and the Stellar double by
#                          their compose names instead of host.docker.internal: on Linux, a
#                          port published on 127.0.0.1 cannot be reached through
#                          host.docker.internal.
set -euo pipefail

out=${1:-.local/sam-local/env.json}
src=infra/sam-local/env.json
dotenv=infra/localstack/.env
[[ -f $src ]] || { echo "render-env: no $src here: run from the repository root" >&2; exit 1; }
command -v python3 >/dev/null || {
  echo "render-env: python3 is needed to write $out; or copy $src, fill it in and pass it to sam local --env-vars" >&2
  exit 1
}

# The state machines of the stack deployed into LocalStack, when there is one.
if { [[ -z ${STATE_MACHINE_ARN:-} ]] || [[ -z ${UPGRADE_STATE_MACHINE_ARN:-} ]] || [[ -z ${AUDIT_BUCKET:-} ]]; } && command -v aws >/dev/null; then
  outputs=$(AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url "${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}" \
    --region "${AWS_REGION:-us-east-1}" --cli-connect-timeout 2 --cli-read-timeout 5 cloudformation describe-stacks \
    --stack-name "${LOCALSTACK_STACK_NAME:-tenant-provisioning-local}" \
    --query "Stacks[0].Outputs[?OutputKey=='StateMachineArn' || OutputKey=='UpgradeStateMachineArn' || starts_with(OutputKey, 'Audit')].[OutputKey,OutputValue]" \
    --output text 2>/dev/null) || outputs=
  while read -r key arn; do
    [[ -n $arn ]] || continue
    case $key in
      AuditSigningKeyArn) [[ -n ${AUDIT_KEY_ID:-} ]] || export AUDIT_KEY_ID=$arn ;;
      AuditDigestBucketName) [[ -n ${AUDIT_BUCKET:-} ]] || export AUDIT_BUCKET=$arn ;;
      StateMachineArn) [[ -n ${STATE_MACHINE_ARN:-} ]] || export STATE_MACHINE_ARN=$arn ;;
      UpgradeStateMachineArn) [[ -n ${UPGRADE_STATE_MACHINE_ARN:-} ]] || export UPGRADE_STATE_MACHINE_ARN=$arn ;;
    esac
  done <<<"$outputs"
fi

mkdir -p "$(dirname "$out")"
umask 077
python3 - "$src" "$out" "$dotenv" <<'PY'
import json, os, sys

src, out, dotenv = sys.argv[1:4]
settings = {}
if os.path.exists(dotenv):
    with open(dotenv) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                settings[k.strip()] = v.strip().strip("'\"")
settings.update({k: v for k, v in os.environ.items() if v})

with open(src) as f:
    env = json.load(f)

network = settings.get("SAM_DOCKER_NETWORK")
hosts = {
    "host.docker.internal:5432": "postgres:5432",
    "host.docker.internal:4566": "localstack:4566",
    "host.docker.internal:8000": "stellar-rpc:8000",
}
for section in env.values():
    for key, value in section.items():
        if key in ("SOROBAN_DEPLOYER_SEED", "STATE_MACHINE_ARN", "UPGRADE_STATE_MACHINE_ARN", "AUDIT_KEY_ID", "AUDIT_BUCKET") and settings.get(key):
            value = settings[key]
        if network:
            for old, new in hosts.items():
                value = value.replace(old, new)
        section[key] = value

with open(out, "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
seed = env.get("DeploySorobanContractFunction", {}).get("SOROBAN_DEPLOYER_SEED", "")
if not seed.startswith("S"):
    print("render-env: SOROBAN_DEPLOYER_SEED is still the placeholder: DeploySorobanContractFunction "
          "will not start (make localstack-keys)", file=sys.stderr)
print("render-env: wrote " + out, file=sys.stderr)
PY
