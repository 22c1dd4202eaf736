package wiring

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5/pgxpool"
	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"

	anchor "github.com/healthstack/tenant-provisioning/contracts/tenant-anchor"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/secrets"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// rpcTimeout bounds each Stellar RPC call, well inside the step's Lambda timeout.
const rpcTimeout = 15 * time.Second

func contractsOption(ctx context.Context, awsCfg aws.Config, pool *pgxpool.Pool) (pipeline.Option, error) {
	cfg, err := config.LoadSoroban()
	if err != nil {
		return nil, err
	}
	d, err := NewDeployer(ctx, cfg, awsCfg, pool)
	if err != nil {
		return nil, err
	}
	return pipeline.WithContracts(d), nil
}

// NewDeployer builds the contract deployer: the pool of deployer keys from Secrets Manager
// (or, locally, SOROBAN_DEPLOYER_SEED), each leased in the control plane for one
// deployment at a time across containers, the journal of sent transactions, and the
// contract Wasm from SOROBAN_WASM_PATH, or only its hash, or else the bundled tenant anchor.
func NewDeployer(ctx context.Context, cfg config.Soroban, awsCfg aws.Config, pool *pgxpool.Pool) (*soroban.Deployer, error) {
	seed := cfg.DeployerSeed
	if cfg.DeployerSecretARN != "" {
		v, err := secrets.NewCache(secretsmanager.NewFromConfig(awsCfg), 0).Get(ctx, cfg.DeployerSecretARN)
		if err != nil {
			return nil, err
		}
		seed = v.Reveal()
	}
	signers, err := ParseSeeds(seed)
	if err != nil {
		return nil, err
	}
	var wasm []byte
	switch {
	case cfg.WasmPath != "":
		if wasm, err = os.ReadFile(cfg.WasmPath); err != nil {
			return nil, fmt.Errorf("config: SOROBAN_WASM_PATH: %w", err)
		}
	case cfg.WasmHash == "":
		wasm = anchor.Wasm
	}
	deployments := store.New(pool).ContractDeployments(DeployerLease)
	return soroban.New(soroban.Config{
		RPC:            client.NewClient(cfg.RPCURL, &http.Client{Timeout: rpcTimeout}),
		Passphrase:     cfg.Passphrase,
		Signers:        signers,
		Accounts:       deployments,
		Wasm:           wasm,
		WasmHash:       cfg.WasmHash,
		Journal:        deployments,
		ConfirmTimeout: cfg.ConfirmTimeout,
	})
}

// DeployerLease is how long a deployment's lease of its account lasts: the contract step's
// Lambda timeout, so a lease whose holder died is free again by the step's next attempt.
// Taken after the invocation began, it outlasts the invocation, so it is never renewed.
const DeployerLease = 110 * time.Second

// ParseSeeds reads the pool of deployer seeds: one secret (or SOROBAN_DEPLOYER_SEED) holding
// a seed as ParseSeed reads it, several separated by commas, or a JSON object with "seeds",
// an array of them. Each account deploys one tenant at a time; the accounts of a pool
// deploy in parallel. Errors never include the content.
func ParseSeeds(raw string) ([]*keypair.Full, error) {
	const op = "read deployer keys"
	raw = strings.TrimSpace(raw)
	var parts []string
	var doc struct {
		Seeds []string `json:"seeds"`
	}
	switch {
	case strings.HasPrefix(raw, "{") && json.Unmarshal([]byte(raw), &doc) == nil && doc.Seeds != nil:
		parts = doc.Seeds
	case strings.HasPrefix(raw, "{"):
		parts = []string{raw}
	default:
		parts = strings.Split(raw, ",")
	}
	var out []*keypair.Full
	seen := map[string]bool{}
	for _, p := range parts {
		kp, err := ParseSeed(p)
		if err != nil {
			return nil, err
		}
		if seen[kp.Address()] {
			return nil, &fault.ConfigError{Op: op, Msg: "a deployer seed is listed twice"}
		}
		seen[kp.Address()] = true
		out = append(out, kp)
	}
	if len(out) == 0 {
		return nil, &fault.ConfigError{Op: op, Msg: "no deployer seed"}
	}
	return out, nil
}

// ParseSeed reads the deployer's secret seed: the bare S… string, or a JSON object with a
// "seed" or "secretSeed" field. Errors never include the content.
func ParseSeed(raw string) (*keypair.Full, error) {
	const op = "read deployer key"
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "{") {
		var doc struct {
			Seed       string `json:"seed"`
			SecretSeed string `json:"secretSeed"`
		}
		if json.Unmarshal([]byte(raw), &doc) != nil {
			return nil, &fault.ConfigError{Op: op, Msg: "deployer secret is neither a seed nor JSON with a seed"}
		}
		raw = doc.Seed + doc.SecretSeed
	}
	kp, err := keypair.ParseFull(raw)
	if err != nil {
		return nil, &fault.ConfigError{Op: op, Msg: "deployer secret does not hold a valid Stellar secret seed"}
	}
	return kp, nil
}
