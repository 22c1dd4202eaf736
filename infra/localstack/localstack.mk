# Targets for LocalStack and the SAM CLI on a workstation with Docker (infra/README.md).
# The Makefile includes this file. Every target says what is missing when Docker, the SAM
# CLI or LocalStack is not there.

LOCALSTACK_DIR := infra/localstack
# Compose profiles to start: "stellar" runs the Stellar RPC double on the compose network
# (and on 127.0.0.1:8000). Empty it to run the double yourself.
LOCALSTACK_PROFILES ?= stellar
LOCALSTACK_ENDPOINT ?= http://127.0.0.1:4566
LOCALSTACK_COMPOSE = docker compose -f $(LOCALSTACK_DIR)/compose.yaml $(foreach p,$(LOCALSTACK_PROFILES),--profile $(p))

# Local builds run on this machine's architecture (the overlay sets the template's
# Architectures to match), so neither sam local nor LocalStack emulates the other one.
LOCAL_LAMBDA_ARCH ?= $(if $(filter arm64 aarch64,$(shell uname -m)),arm64,x86_64)
LOCAL_GOARCH = $(if $(filter arm64,$(LOCAL_LAMBDA_ARCH)),arm64,amd64)

# sam local: a build of its own (.aws-sam/sam-local), the overlay of it that declares the
# local-only variables, the env file rendered from infra/sam-local/env.json, and the flags
# every sam local command gets. host-gateway makes host.docker.internal resolve on Linux as
# it does in Docker Desktop (SAM CLI 1.114 or later). With
# SAM_DOCKER_NETWORK=tenant-provisioning-local the functions join the compose network and
# reach its services by name instead (needed on Linux: see infra/README.md).
SAM_LOCAL_BUILD_DIR := .aws-sam/sam-local
SAM_LOCAL_TEMPLATE := $(SAM_LOCAL_BUILD_DIR)/build/template.sam-local.yaml
SAM_ENV_FILE ?= .local/sam-local/env.json
SAM_LOCAL_FLAGS ?= --add-host host.docker.internal:host-gateway
SAM_DOCKER_NETWORK ?=
SAM_BUILD_FLAGS ?=
SAM_LOCAL_API_PORT ?= 3000
SAM_LOCAL_LAMBDA_PORT ?= 3001
SAM_NETWORK_FLAG = $(if $(SAM_DOCKER_NETWORK),--docker-network $(SAM_DOCKER_NETWORK))
# sam local hands these to the function containers: LocalStack's, never a real profile's.
SAM_AWS_ENV = env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
SAM_LOCAL_COMMON = -t $(SAM_LOCAL_TEMPLATE) --env-vars $(SAM_ENV_FILE) $(SAM_LOCAL_FLAGS) $(SAM_NETWORK_FLAG)

# Recipe prefixes that stop with a clear message when something is missing.
LOCALSTACK_NEED_DOCKER = command -v docker >/dev/null || { \
	echo "$@: Docker is not installed; this target runs containers (https://docs.docker.com/get-docker/)." >&2; exit 1; }; \
	docker info >/dev/null 2>&1 || { echo "$@: the Docker daemon does not answer; start Docker first." >&2; exit 1; };
LOCALSTACK_NEED_COMPOSE = $(LOCALSTACK_NEED_DOCKER) docker compose version >/dev/null 2>&1 || { \
	echo "$@: the Docker Compose plugin (docker compose) is missing (https://docs.docker.com/compose/install/)." >&2; exit 1; };
LOCALSTACK_NEED_SAM = command -v sam >/dev/null || { \
	echo "$@: the AWS SAM CLI is not installed (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)." >&2; exit 1; }; \
	[ -f template.yaml ] || { echo "$@: there is no template.yaml (the SAM template)." >&2; exit 1; };

.PHONY: localstack-up localstack-down localstack-logs localstack-init localstack-keys localstack-deploy \
	sam-local-check sam-local-build sam-local-env sam-local-invoke sam-local-api sam-local-lambda

localstack-up: ## Start LocalStack, PostgreSQL 15 and the Stellar RPC double (Docker) and wait until ready
	@$(LOCALSTACK_NEED_COMPOSE) \
	grep -qs '^SOROBAN_DEPLOYER_SEED=S' $(LOCALSTACK_DIR)/.env || \
		echo "localstack-up: no deployer key in $(LOCALSTACK_DIR)/.env: the deployer secret gets a placeholder (run make localstack-keys first)" >&2; \
	echo "localstack-up: starting; the first start pulls images and compiles the Stellar double, which takes minutes" >&2; \
	$(LOCALSTACK_COMPOSE) up -d --wait || { \
		echo "localstack-up: a service did not become healthy; see make localstack-logs" >&2; exit 1; }; \
	if curl -fsS $(LOCALSTACK_ENDPOINT)/_localstack/init/ready | grep -Eq '"state": ?"ERROR"'; then \
		echo "localstack-up: LocalStack's init script failed; see make localstack-logs" >&2; exit 1; fi; \
	echo "LocalStack  $(LOCALSTACK_ENDPOINT) (AWS_ENDPOINT_URL; mail it accepted: $(LOCALSTACK_ENDPOINT)/_aws/ses)"; \
	echo "PostgreSQL  postgres://postgres:postgres@127.0.0.1:$${POSTGRES_PORT:-5432}/tenant_provisioning?sslmode=disable"; \
	$(if $(filter stellar,$(LOCALSTACK_PROFILES)),echo "Stellar RPC double  http://127.0.0.1:$${STELLAR_RPC_PORT:-8000} (network local)";) \
	echo "Next: make localstack-deploy, or make sam-local-invoke FN=... / sam-local-lambda (infra/README.md)"

localstack-down: ## Stop and remove the LocalStack containers (their state goes with them)
	@$(LOCALSTACK_NEED_COMPOSE) $(LOCALSTACK_COMPOSE) down --remove-orphans

localstack-logs: ## Show the LocalStack containers' logs
	@$(LOCALSTACK_NEED_COMPOSE) $(LOCALSTACK_COMPOSE) logs --tail 200

localstack-init: ## Run LocalStack's init script again (secrets, SES identity); after editing .env run localstack-up
	@$(LOCALSTACK_NEED_COMPOSE) $(LOCALSTACK_COMPOSE) exec localstack /etc/localstack/init/ready.d/10-init.sh

localstack-keys: ## Write a fresh local Stellar deployer key to infra/localstack/.env (an existing one is kept)
	@if grep -qs '^SOROBAN_DEPLOYER_SEED=S' $(LOCALSTACK_DIR)/.env; then \
		echo "localstack-keys: $(LOCALSTACK_DIR)/.env already has a deployer key; delete its two lines for a new one"; \
	else \
		command -v go >/dev/null || { echo "$@: Go is needed to generate the key" >&2; exit 1; }; \
		umask 077; go run ./$(LOCALSTACK_DIR)/stellarkey >> $(LOCALSTACK_DIR)/.env && \
		echo "localstack-keys: wrote SOROBAN_DEPLOYER_SEED and SOROBAN_DEPLOYER_ADDRESS to $(LOCALSTACK_DIR)/.env (git-ignored)"; \
	fi

localstack-deploy: ## sam build, then deploy the stack into LocalStack (the HTTP API needs a paid LocalStack plan)
	@$(LOCALSTACK_NEED_SAM) \
	LOCALSTACK_ENDPOINT=$(LOCALSTACK_ENDPOINT) LOCAL_LAMBDA_ARCH=$(LOCAL_LAMBDA_ARCH) \
	SAM_BUILD_FLAGS="$(SAM_BUILD_FLAGS)" $(LOCALSTACK_DIR)/deploy.sh

sam-local-build: ## sam build for this machine's architecture, and the overlay sam local runs
	@$(LOCALSTACK_NEED_SAM) \
	GOARCH_LAMBDA=$(LOCAL_GOARCH) sam build --build-dir $(SAM_LOCAL_BUILD_DIR)/build \
		--cache-dir $(SAM_LOCAL_BUILD_DIR)/cache $(SAM_BUILD_FLAGS) && \
	go run ./infra/sam-local/overlay -for sam-local -arch $(LOCAL_LAMBDA_ARCH) $(SAM_LOCAL_BUILD_DIR)/build/template.yaml

sam-local-env: ## Write the sam local env file from infra/sam-local/env.json and your deployer key
	@SAM_DOCKER_NETWORK=$(SAM_DOCKER_NETWORK) LOCALSTACK_ENDPOINT=$(LOCALSTACK_ENDPOINT) \
	infra/sam-local/render-env.sh $(SAM_ENV_FILE)

sam-local-check:
	@$(LOCALSTACK_NEED_DOCKER) $(LOCALSTACK_NEED_SAM) true

# FN must name a function with a sample event; checked before anything is built.
ifneq ($(filter sam-local-invoke,$(MAKECMDGOALS)),)
ifeq ($(wildcard events/$(FN)/event.json),)
$(error sam-local-invoke: name a function with a sample event: make sam-local-invoke FN=<one of: $(notdir $(wildcard events/*Function))>)
endif
endif

sam-local-invoke: sam-local-check sam-local-build sam-local-env ## sam local invoke FN=<LogicalId> on its sample event, events/<LogicalId>/event.json
	$(SAM_AWS_ENV) sam local invoke $(FN) -e events/$(FN)/event.json $(SAM_LOCAL_COMMON)

sam-local-api: sam-local-check sam-local-build sam-local-env ## sam local start-api on :3000 (the JWT authorizer is not emulated: routes answer 401; infra/README.md)
	$(SAM_AWS_ENV) sam local start-api --port $(SAM_LOCAL_API_PORT) $(SAM_LOCAL_COMMON)

sam-local-lambda: sam-local-check sam-local-build sam-local-env ## sam local start-lambda on :3001 (the Lambda Invoke API) with the env file
	$(SAM_AWS_ENV) sam local start-lambda --port $(SAM_LOCAL_LAMBDA_PORT) $(SAM_LOCAL_COMMON)
