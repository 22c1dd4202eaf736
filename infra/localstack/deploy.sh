#!/usr/bin/env bash
# Builds the SAM application and deploys it into the LocalStack of compose.yaml
# (`make localstack-deploy`). Run from the repository root, with LocalStack up.
#
#   1. sam build (template.yaml, samconfig.toml's build settings) for this machine's
#      architecture, into .aws-sam/localstack (the arm64 build for AWS stays as it is);
#   2. the localstack overlay of the built template (infra/sam-local/overlay): no TLS to the
#      compose PostgreSQL, contracts to the compose Stellar RPC double, functions on this
#      machine's architecture;
#   3. sam deploy (samlocal when installed, else sam with AWS_ENDPOINT_URL) of that overlay,
#      with parameters for LocalStack: the existing-database mode on the compose PostgreSQL
#      and the secrets init/ready.d/10-init.sh made, LocalStack's default VPC, a made-up JWT
#      issuer. samconfig.toml's deploy settings (made for AWS) are not used.
#
# What LocalStack's free plan cannot run: the HTTP API (apigatewayv2) needs a paid plan, like
# RDS; the database is therefore the compose PostgreSQL (UseExistingDatabase=true). See
# infra/README.md.
#
# Settings (environment):
#   LOCALSTACK_ENDPOINT            LocalStack's URL (default http://127.0.0.1:4566)
#   LOCALSTACK_STACK_NAME          stack name (default tenant-provisioning-local)
#   LOCALSTACK_PARAMETER_OVERRIDES Name=Value pairs, space-separated, replacing the defaults
#                                  below; {db_secret_arn}, {deployer_secret_arn}, {vpc_id},
#                                  {subnet_ids} and {security_group_id} are filled in. A pair
#                                  naming a parameter the template does not declare is dropped,
#                                  with a warning.
#   LOCAL_LAMBDA_ARCH              x86_64 or arm64 (default: this machine's)
#   SAM_BUILD_FLAGS, SAM_DEPLOY_FLAGS  more flags for `sam build` / `sam deploy`
#   DRY_RUN=1                      print the commands instead of running them
#   LOCALSTACK_HEALTH_URL          where to check that LocalStack answers
#                                  (default $LOCALSTACK_ENDPOINT/_localstack/health)
set -euo pipefail

endpoint=${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}
stack=${LOCALSTACK_STACK_NAME:-tenant-provisioning-local}
region=${AWS_REGION:-us-east-1}
template=template.yaml
build_dir=.aws-sam/localstack
built=$build_dir/build/template.yaml
overlay=$build_dir/build/template.localstack.yaml
case ${LOCAL_LAMBDA_ARCH:-$(uname -m)} in
  arm64 | aarch64) arch=arm64 goarch=arm64 ;;
  x86_64 | amd64) arch=x86_64 goarch=amd64 ;;
  *) printf 'localstack-deploy: unknown architecture %s (set LOCAL_LAMBDA_ARCH to x86_64 or arm64)\n' "${LOCAL_LAMBDA_ARCH:-$(uname -m)}" >&2; exit 1 ;;
esac
db_secret=${DB_SECRET_NAME:-tenant-provisioning/local/db}
deployer_secret=${DEPLOYER_SECRET_NAME:-tenant-provisioning/local/deployer}
# The JWT issuer and audience are the sample events' (events/*Tenant*Function/event.json).
default_overrides='Stage=dev VpcId={vpc_id} PrivateSubnetIds={subnet_ids} UseExistingDatabase=true ExistingDbHost=postgres ExistingDbSecretArn={db_secret_arn} ExistingDbSecurityGroupId={security_group_id} ExistingDeployerSecretArn={deployer_secret_arn} JwtIssuer=https://auth.example.org/ JwtAudience=tenant-provisioning-admin-api SesFromAddress=noreply@tenant-provisioning.localhost AppBaseUrl=http://localhost:3000 LogRetentionDays=1'
overrides=${LOCALSTACK_PARAMETER_OVERRIDES:-$default_overrides}

die() { printf 'localstack-deploy: %s\n' "$*" >&2; exit 1; }
warn() { printf 'localstack-deploy: %s\n' "$*" >&2; }

# LocalStack takes any credentials: never hand it (or let a typo send to AWS) a real profile's.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=$region AWS_DEFAULT_REGION=$region
unset AWS_PROFILE AWS_SESSION_TOKEN

[[ -f $template ]] || die "no $template here: run from the repository root"
command -v sam >/dev/null ||
  die "the AWS SAM CLI is not installed: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"
command -v go >/dev/null || die "Go is needed for the template overlay (infra/sam-local/overlay)"
if command -v samlocal >/dev/null; then
  deploy_cli=(samlocal)
else
  # The SAM CLI's boto3 honours AWS_ENDPOINT_URL (boto3 1.28 and later).
  deploy_cli=(env "AWS_ENDPOINT_URL=$endpoint" sam)
fi
if command -v aws >/dev/null; then
  aws_cli=(aws --endpoint-url "$endpoint" --region "$region")
elif command -v awslocal >/dev/null; then
  aws_cli=(awslocal --region "$region")
else
  die "the aws CLI (or awslocal) is needed to look up the secrets and the VPC in LocalStack"
fi

health=${LOCALSTACK_HEALTH_URL:-$endpoint/_localstack/health}
curl -fsS -o /dev/null --max-time 5 "$health" 2>/dev/null ||
  die "LocalStack does not answer at $endpoint: start it with make localstack-up"

# lookup WHAT ARGS…: one value from LocalStack, or a clear stop.
lookup() {
  local what=$1 value
  shift
  value=$("${aws_cli[@]}" "$@" --output text 2>/dev/null) || value=
  [[ -n $value && $value != None ]] || die "LocalStack has no $what (is this LocalStack, up with make localstack-up? make localstack-logs shows its init script)"
  printf '%s' "$value"
}
fill() {
  local placeholder=$1 value=$2
  overrides=${overrides//\{$placeholder\}/$value}
}
if [[ $overrides == *"{db_secret_arn}"* ]]; then
  fill db_secret_arn "$(lookup "secret $db_secret" secretsmanager describe-secret --secret-id "$db_secret" --query ARN)"
fi
if [[ $overrides == *"{deployer_secret_arn}"* ]]; then
  fill deployer_secret_arn "$(lookup "secret $deployer_secret" secretsmanager describe-secret --secret-id "$deployer_secret" --query ARN)"
fi
if [[ $overrides == *"{vpc_id}"* || $overrides == *"{subnet_ids}"* || $overrides == *"{security_group_id}"* ]]; then
  vpc=$(lookup "default VPC (EC2 must be among compose.yaml's SERVICES)" ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId')
  subnets=$(lookup "subnets in $vpc" ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc" --query 'Subnets[].SubnetId')
  read -r -a subnet_list <<<"$subnets"
  subnets=$(IFS=,; printf '%s' "${subnet_list[*]}")
  sg=$(lookup "default security group of $vpc" ec2 describe-security-groups \
    --filters "Name=vpc-id,Values=$vpc" Name=group-name,Values=default --query 'SecurityGroups[0].GroupId')
  fill vpc_id "$vpc"
  fill subnet_ids "$subnets"
  fill security_group_id "$sg"
fi

# Keep the pairs that name a parameter the template declares.
declared=$(go run ./infra/sam-local/overlay -list-parameters "$template" 2>/dev/null) ||
  die "cannot read $template's Parameters (go run ./infra/sam-local/overlay -list-parameters $template)"
read -r -a pairs <<<"$overrides"
kept=()
for pair in ${pairs[@]+"${pairs[@]}"}; do
  name=${pair%%=*}
  if [[ " $declared " == *" $name "* ]]; then
    kept+=("$pair")
  else
    warn "dropping $name: $template declares no such parameter (it declares: $declared)"
  fi
done

# ${a[@]+"${a[@]}"}: an empty array under set -u, on the bash 3.2 macOS ships too.
read -r -a build_flags <<<"${SAM_BUILD_FLAGS:-}"
read -r -a deploy_flags <<<"${SAM_DEPLOY_FLAGS:-}"
mkdir -p .local/localstack
printf 'version = 0.1\n' >.local/localstack/samconfig.toml
build=(env "GOARCH_LAMBDA=$goarch" sam build --build-dir "$build_dir/build" --cache-dir "$build_dir/cache"
  ${build_flags[@]+"${build_flags[@]}"})
overlay_cmd=(go run ./infra/sam-local/overlay -for localstack -arch "$arch" -o "$overlay" "$built")
deploy=("${deploy_cli[@]}" deploy --config-file "$PWD/.local/localstack/samconfig.toml"
  --template-file "$overlay" --stack-name "$stack" --region "$region" --resolve-s3
  --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND
  --no-confirm-changeset --no-fail-on-empty-changeset
  ${deploy_flags[@]+"${deploy_flags[@]}"})
if ((${#kept[@]})); then
  deploy+=(--parameter-overrides "${kept[@]}")
fi

if [[ ${DRY_RUN:-} == 1 ]]; then
  printf '%q ' "${build[@]}"; echo
  printf '%q ' "${overlay_cmd[@]}"; echo
  printf '%q ' "${deploy[@]}"; echo
  exit 0
fi
"${build[@]}"
"${overlay_cmd[@]}"
"${deploy[@]}"
"${aws_cli[@]}" cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
echo "Deployed $stack into LocalStack at $endpoint. make sam-local-env picks up its StateMachineArn."
