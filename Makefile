# Entry point for people, CI and `sam build`. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Local PostgreSQL (trust authentication on this kind of machine). Override to use another.
PGHOST ?= 127.0.0.1
PGPORT ?= 5432
DB_NAME ?= tenant_provisioning
DATABASE_URL ?= postgres://postgres@$(PGHOST):$(PGPORT)/$(DB_NAME)?sslmode=disable
TEST_DATABASE_URL ?= postgres://postgres@$(PGHOST):$(PGPORT)/postgres?sslmode=disable
# Local runs read DATABASE_URL; deployed functions read credentials from Secrets Manager only.
APP_ENV ?= local
export PGHOST PGPORT DATABASE_URL TEST_DATABASE_URL APP_ENV

# AWS APIs go to an emulator through the SDK's standard AWS_ENDPOINT_URL: moto_server,
# started on demand by infra/local/moto.sh, or LocalStack on the same port.
AWS_ENDPOINT_URL ?= http://127.0.0.1:4566
AWS_REGION ?= us-east-1
AWS_ACCESS_KEY_ID ?= test
AWS_SECRET_ACCESS_KEY ?= test
SES_FROM_ADDRESS ?= noreply@tenant-provisioning.localhost
APP_BASE_URL ?= http://localhost:3000
AWS_ENV = AWS_ENDPOINT_URL=$(AWS_ENDPOINT_URL) AWS_REGION=$(AWS_REGION) \
	AWS_ACCESS_KEY_ID=$(AWS_ACCESS_KEY_ID) AWS_SECRET_ACCESS_KEY=$(AWS_SECRET_ACCESS_KEY)
# Prefix for a recipe line: the rest of the line gets the emulator's settings when one can
# be started; otherwise it runs without e-mail, and says so.
WITH_AWS_EMULATOR = if $(AWS_ENV) infra/local/moto.sh; then \
	export $(AWS_ENV) SES_FROM_ADDRESS=$(SES_FROM_ADDRESS) APP_BASE_URL=$(APP_BASE_URL); \
	else echo "no AWS emulator: e-mail is not configured" >&2; fi;

# Lambda builds: keep GOARCH in sync with template.yaml's Architectures.
GOARCH_LAMBDA ?= arm64
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
LAMBDA_BUILD = GOOS=linux GOARCH=$(GOARCH_LAMBDA) CGO_ENABLED=0 go build -trimpath -tags lambda.norpc -ldflags="-s -w"
# template.yaml's functions, <LogicalId>:<folder under functions/>, from the catalogue
# (internal/catalog; `go generate ./internal/catalog` rewrites the file). `sam build`
# (BuildMethod: makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR set; `make build`
# runs them all into build/<LogicalId>/, the layout of .aws-sam/build/.
include functions/catalog.mk
LAMBDA_IDS := $(foreach l,$(LAMBDAS),$(firstword $(subst :, ,$(l))))
lambda_dir = $(lastword $(subst :, ,$(filter $(1):%,$(LAMBDAS))))
ARTIFACTS_DIR ?= build/$*
# The CA bundle that verifies the RDS server certificate (DB_SSLROOTCERT=/var/task/...).
RDS_CA := infra/rds/rds-global-bundle.pem
RDS_CA_URL := https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem

.PHONY: bench-go bench-profile bench-scale help dev provision lambda-api migrate audit-verify test test-short lint bench build clean postgres aws-emulator

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

postgres: ## Start the local PostgreSQL if it is down and create $(DB_NAME)
	@DB_NAME=$(DB_NAME) infra/local/postgres.sh

# E-mail stays in the local outbox; the audit trail's signing key and digest bucket (and
# EventBridge) go to the AWS API emulator, service by service, when one can be started.
dev: postgres ## Run the local stack: admin API on :3000, executions, Lambda Invoke API on :3001, Stellar double, SES outbox, audit trail
	@if $(AWS_ENV) infra/local/moto.sh; then export AWS_REGION=$(AWS_REGION) AWS_ACCESS_KEY_ID=$(AWS_ACCESS_KEY_ID) \
		AWS_SECRET_ACCESS_KEY=$(AWS_SECRET_ACCESS_KEY) AWS_ENDPOINT_URL_KMS=$(AWS_ENDPOINT_URL) \
		AWS_ENDPOINT_URL_S3=$(AWS_ENDPOINT_URL) AWS_ENDPOINT_URL_EVENTBRIDGE=$(AWS_ENDPOINT_URL); \
	else echo "no AWS emulator: the audit trail is kept but not signed" >&2; fi; go run ./cmd/dev

aws-emulator: ## Start moto_server at AWS_ENDPOINT_URL unless an emulator answers there
	@$(AWS_ENV) infra/local/moto.sh

# E-mail goes to SES in the emulator when one can be started; otherwise that state is skipped.
provision: postgres ## Onboard one tenant locally: make provision NAME=... ADMIN_EMAIL=... ADMIN_FIRST_NAME=... ADMIN_LAST_NAME=...
	@$(WITH_AWS_EMULATOR) go run ./cmd/provision -name "$(NAME)" -admin-email "$(ADMIN_EMAIL)" \
		-admin-first-name "$(ADMIN_FIRST_NAME)" -admin-last-name "$(ADMIN_LAST_NAME)"

lambda-api: postgres ## Serve every function on the Lambda Invoke API at 127.0.0.1:3001 (like sam local start-lambda)
	@$(WITH_AWS_EMULATOR) go run ./cmd/lambda-api

migrate: postgres ## Migrate the control plane at DATABASE_URL
	go run ./cmd/migrate-control-plane

# make dev writes the local stack's key and bucket to .local/audit.env; a deployed stack's
# are its AuditSigningKeyArn and AuditDigestBucketName outputs (infra/RUNBOOK.md).
audit-verify: ## Verify the whole audit trail: every signed digest (AUDIT_KEY_ID, AUDIT_BUCKET) and the chain at DATABASE_URL
	@if [ -z "$$AUDIT_BUCKET" ]; then \
		[ -f .local/audit.env ] || { echo "audit-verify: set AUDIT_KEY_ID and AUDIT_BUCKET, or run make dev first" >&2; exit 2; }; \
		set -a; . ./.local/audit.env; set +a; export $(AWS_ENV); fi; \
	go run ./cmd/audit-verify

lint: ## gofmt check and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

test: lint lint-template ## Run every test: unit, and integration on a real PostgreSQL and an AWS API emulator
	@DB_NAME= infra/local/postgres.sh
	@$(AWS_ENV) infra/local/moto.sh
	$(AWS_ENV) go test -race -count=1 ./...

test-short: ## Unit tests only (no services needed)
	go test -short -count=1 ./...

bench: ## Measure provisioning against the floor, again at 10,000 tenants, the upgrade fan-out, a burst on 1 and 8 deployer accounts, the routes, every function (about 20 minutes; writes bench/results/*.json)
	@DB_NAME= infra/local/postgres.sh
	go run ./cmd/bench

bench-scale: ## make bench with the list route also at 100,000 tenants (about a minute more)
	@DB_NAME= infra/local/postgres.sh
	go run ./cmd/bench -list 10000,100000

bench-profile: ## CPU profile of 200 one-at-a-time provisionings, its top functions printed (.local/bench-latency.pprof)
	@DB_NAME= infra/local/postgres.sh
	@mkdir -p .local
	go run ./cmd/bench -n 20 -r 200 -floor 20 -scale 0 -list "" -startup 0 -out .local/bench -cpuprofile .local/bench-latency.pprof
	go tool pprof -top -nodecount=25 .local/bench-latency.pprof

bench-go: ## Run the Go micro-benchmarks (per-tenant database steps, one step's fixed cost, password hashing)
	@DB_NAME= infra/local/postgres.sh
	@$(AWS_ENV) infra/local/moto.sh
	$(AWS_ENV) go test -run '^$$' -bench . -benchmem -count=1 ./...

build: ## Build every Lambda's bootstrap (linux/$(GOARCH_LAMBDA)) under build/<LogicalId>/, as sam build does
	@unmapped="$(filter-out $(foreach id,$(LAMBDA_IDS),$(call lambda_dir,$(id))),$(FUNCTIONS))"; \
	if [ -n "$$unmapped" ]; then echo "functions/ without a logical id in the Makefile's LAMBDAS: $$unmapped" >&2; exit 1; fi
	@[ -f $(RDS_CA) ] || echo "warning: $(RDS_CA) is missing (make rds-ca): deployed functions could not verify the database certificate" >&2
	@for id in $(LAMBDA_IDS); do \
		$(MAKE) --no-print-directory build-$$id ARTIFACTS_DIR=build/$$id RDS_CA_CHECKED=1 || exit 1; \
	done
	@ls -l $(foreach id,$(LAMBDA_IDS),build/$(id)/bootstrap) | awk '{printf "%8.1f MiB  %s\n", $$5/1048576, $$9}'

# One recipe for every function; the RDS CA bundle goes next to bootstrap when present.
.PHONY: $(addprefix build-,$(LAMBDA_IDS)) rds-ca lint-template
$(addprefix build-,$(LAMBDA_IDS)): build-%:
	@mkdir -p $(ARTIFACTS_DIR)
	@$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(call lambda_dir,$*)
	@if [ -f $(RDS_CA) ]; then cp $(RDS_CA) $(ARTIFACTS_DIR)/; \
	elif [ -z "$(RDS_CA_CHECKED)" ]; then echo "warning: $(RDS_CA) is missing (make rds-ca): deployed, $* could not verify the database certificate" >&2; fi

rds-ca: ## Fetch the RDS CA bundle into infra/rds/ (builds copy it next to each bootstrap)
	@mkdir -p $(dir $(RDS_CA))
	curl -fsSL --proto '=https' $(RDS_CA_URL) -o $(RDS_CA).tmp
	@grep -q 'BEGIN CERTIFICATE' $(RDS_CA).tmp || { rm -f $(RDS_CA).tmp; echo "$(RDS_CA_URL) did not return a PEM bundle" >&2; exit 1; }
	@mv $(RDS_CA).tmp $(RDS_CA) && echo "$(RDS_CA): $$(grep -c 'BEGIN CERTIFICATE' $(RDS_CA)) certificates"

lint-template: ## cfn-lint template.yaml (SAM template; pip install cfn-lint)
	@command -v cfn-lint >/dev/null 2>&1 || { echo "cfn-lint is not installed: pip install cfn-lint" >&2; exit 1; }
	cfn-lint template.yaml

clean: ## Remove build output
	rm -rf build .aws-sam
include infra/localstack/localstack.mk
