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
FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_BUILD = GOOS=linux GOARCH=$(GOARCH_LAMBDA) CGO_ENABLED=0 go build -trimpath -tags lambda.norpc -ldflags="-s -w"

.PHONY: help dev provision lambda-api migrate test test-short lint bench build clean postgres aws-emulator

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

postgres: ## Start the local PostgreSQL if it is down and create $(DB_NAME)
	@DB_NAME=$(DB_NAME) infra/local/postgres.sh

dev: postgres ## Run the local stack: admin API on :3000, executions, Lambda Invoke API on :3001, Stellar double, SES outbox
	go run ./cmd/dev

aws-emulator: ## Start moto_server at AWS_ENDPOINT_URL unless an emulator answers there
	@$(AWS_ENV) infra/local/moto.sh

# E-mail goes to SES in the emulator when one can be started; otherwise that state is skipped.
provision: postgres ## Onboard one tenant locally: make provision NAME=... ADMIN_EMAIL=... ADMIN_FIRST_NAME=... ADMIN_LAST_NAME=...
	@$(WITH_AWS_EMULATOR) go run ./cmd/provision -name "$(NAME)" -admin-email "$(ADMIN_EMAIL)" \
		-admin-first-name "$(ADMIN_FIRST_NAME)" -admin-last-name "$(ADMIN_LAST_NAME)"

lambda-api: postgres ## Serve every function on the Lambda Invoke API at 127.0.0.1:3001 (like sam local start-lambda)
	@$(WITH_AWS_EMULATOR) go run ./cmd/lambda-api

migrate: postgres ## Migrate the control plane at DATABASE_URL
	go run ./cmd/migrate

lint: ## gofmt check and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

test: lint ## Run every test: unit, and integration on a real PostgreSQL and an AWS API emulator
	@DB_NAME= infra/local/postgres.sh
	@$(AWS_ENV) infra/local/moto.sh
	$(AWS_ENV) go test -race -count=1 ./...

test-short: ## Unit tests only (no services needed)
	go test -short -count=1 ./...

bench: ## Run the Go benchmarks against the local PostgreSQL
	@DB_NAME= infra/local/postgres.sh
	@$(AWS_ENV) infra/local/moto.sh
	$(AWS_ENV) go test -run '^$$' -bench . -benchmem -count=1 ./...

build: ## Build every Lambda's bootstrap (linux/$(GOARCH_LAMBDA)) under build/<function>/
	@for fn in $(FUNCTIONS); do \
		$(LAMBDA_BUILD) -o build/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done
	@ls -l build/*/bootstrap | awk '{printf "%8.1f MiB  %s\n", $$5/1048576, $$9}'

clean: ## Remove build output
	rm -rf build .aws-sam
