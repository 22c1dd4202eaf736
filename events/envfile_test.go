package events_test

import (
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/stellar/go/keypair"
	"gopkg.in/yaml.v3"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/testkit/cfntemplate"
)

// samEnvFile is the --env-vars file for `sam local`, which the events go with.
const samEnvFile = "../infra/sam-local/env.json"

// configVars are the variables internal/config reads; each function's settings are loaded
// from the env file alone, with these cleared first.
var configVars = []string{
	"APP_ENV", "AWS_ENDPOINT_URL", "DATABASE_URL", "DB_SECRET_ARN", "DB_HOST", "DB_PORT", "DB_NAME",
	"DB_SSLMODE", "DB_SSLROOTCERT", "DB_MAX_CONNS", "SES_FROM_ADDRESS", "SES_CONFIGURATION_SET", "OPS_EMAIL",
	"APP_BASE_URL", "TENANT_URL_TEMPLATE", "ACTIVATION_TTL", "STATE_MACHINE_ARN", "SOROBAN_RPC_URL",
	"SOROBAN_NETWORK", "SOROBAN_NETWORK_PASSPHRASE", "DEPLOYER_SECRET_ARN", "SOROBAN_DEPLOYER_SEED",
	"SOROBAN_WASM_PATH", "SOROBAN_WASM_HASH", "SOROBAN_CONFIRM_TIMEOUT", "ADMIN_SCOPE", "UPGRADE_STATE_MACHINE_ARN",
	"AUDIT_KEY_ID", "AUDIT_BUCKET",
	"EVENT_BUS_NAME",
}

// localOnlyVars are the variables the sam-local overlay (infra/sam-local/overlay) declares
// in the built template, so that the env file may set them although template.yaml, which
// describes AWS, does not. Keep in step with overlay.LocalOnlyVars.
var localOnlyVars = []string{"APP_ENV", "AWS_ENDPOINT_URL", "DATABASE_URL", "SOROBAN_DEPLOYER_SEED"}

// What each function's main loads besides the database (functions/*/main.go).
var (
	emailFunctions    = []string{catalog.SendWelcomeEmail.LogicalID, catalog.Rollback.LogicalID}
	contractFunctions = []string{catalog.DeploySorobanContract.LogicalID}
	workflowFunctions = []string{catalog.CreateTenant.LogicalID, catalog.GetProvisioningStatus.LogicalID, catalog.RetryTenant.LogicalID}
	upgradeFunctions  = []string{catalog.StartUpgrade.LogicalID}
	auditFunctions    = []string{catalog.SealAudit.LogicalID, catalog.VerifyAuditTrail.LogicalID}
)

// TestSamLocalEnvFile loads every function's settings from infra/sam-local/env.json as the
// function's own config loaders do, so that the file cannot drift from internal/config.
func TestSamLocalEnvFile(t *testing.T) {
	raw, err := os.ReadFile(samEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	// SAM takes string values only.
	var file map[string]map[string]string
	if err := decodeStrict(raw, &file); err != nil {
		t.Fatalf("%s: every section must map names to strings: %v", samEnvFile, err)
	}
	var all []string
	for _, f := range catalog.All() {
		all = append(all, f.LogicalID)
	}
	for section := range file {
		if section != "Parameters" && !slices.Contains(all, section) {
			t.Errorf("%s: section %s is neither Parameters nor a function", samEnvFile, section)
		}
	}
	declared := templateEnv(t)

	for _, fn := range all {
		t.Run(fn, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range file["Parameters"] {
				env[k] = v
			}
			for k, v := range file[fn] {
				env[k] = v
			}
			for _, k := range configVars {
				t.Setenv(k, "")
			}
			for k, v := range env {
				t.Setenv(k, v)
				if declared != nil && declared[fn] != nil && !declared[fn][k] && !slices.Contains(localOnlyVars, k) {
					t.Errorf("sets %s, which template.yaml does not declare for %s: sam local would drop it", k, fn)
				}
				if u, err := url.Parse(v); err == nil && u.Host != "" && k != "APP_BASE_URL" {
					if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" {
						t.Errorf("%s points at %s, which inside the function's container is the container itself", k, h)
					}
				}
			}

			db, err := config.LoadDatabase()
			if err != nil || db.URL == "" || db.SecretARN != "" {
				t.Errorf("LoadDatabase: %+v, %v; want DATABASE_URL (with APP_ENV=local and no DB_SECRET_ARN)", db.SecretARN, err)
			}
			if slices.Contains(emailFunctions, fn) {
				if _, err := config.LoadEmail(); err != nil {
					t.Errorf("LoadEmail: %v", err)
				}
			}
			if slices.Contains(contractFunctions, fn) {
				s, err := config.LoadSoroban()
				if err != nil || s.Network != "local" || s.DeployerSecretARN != "" {
					t.Errorf("LoadSoroban: %+v, %v; want the local network and SOROBAN_DEPLOYER_SEED", s.Network, err)
				}
				// The committed file holds a placeholder, never a key.
				if _, err := keypair.ParseFull(s.DeployerSeed); err == nil {
					t.Errorf("SOROBAN_DEPLOYER_SEED is a real Stellar seed: keep it out of the repository (infra/sam-local/render-env.sh fills it in)")
				}
			}
			if slices.Contains(workflowFunctions, fn) {
				if _, err := config.LoadWorkflow(); err != nil {
					t.Errorf("LoadWorkflow: %v", err)
				}
			}
			if slices.Contains(upgradeFunctions, fn) {
				if w, err := config.LoadUpgradeWorkflow(); err != nil || w.StateMachineARN == env["STATE_MACHINE_ARN"] {
					t.Errorf("LoadUpgradeWorkflow: %q, %v; want the upgrade state machine, not the provisioning one", w.StateMachineARN, err)
				}
			} else if _, ok := env["UPGRADE_STATE_MACHINE_ARN"]; ok {
				t.Errorf("sets UPGRADE_STATE_MACHINE_ARN, which only %v read", upgradeFunctions)
			}
			if slices.Contains(auditFunctions, fn) {
				if _, err := config.LoadAuditChain(); err != nil {
					t.Errorf("LoadAuditChain: %v", err)
				}
			} else if _, ok := env["AUDIT_BUCKET"]; ok {
				t.Errorf("sets AUDIT_BUCKET, which only %v read", auditFunctions)
			}
			if fn == catalog.PublishLifecycleEvents.LogicalID {
				if _, err := config.LoadEvents(); err != nil {
					t.Errorf("LoadEvents: %v", err)
				}
			} else if _, ok := env["EVENT_BUS_NAME"]; ok {
				t.Errorf("sets EVENT_BUS_NAME, which only %s reads", catalog.PublishLifecycleEvents.LogicalID)
			}
			if _, isAPI := apiOperations[fn]; isAPI {
				if got := config.LoadAPI().RequiredScope; got != adminScope || env["ADMIN_SCOPE"] != adminScope {
					t.Errorf("ADMIN_SCOPE %q, want %s (the events' scope)", got, adminScope)
				}
			} else if _, ok := env["ADMIN_SCOPE"]; ok {
				t.Errorf("sets ADMIN_SCOPE, which only the API functions read")
			}
		})
	}
}

// templateEnv lists, per function, the variables template.yaml declares (Globals and the
// function's own), or nil when there is no template.
func templateEnv(t *testing.T) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../template.yaml")
	if os.IsNotExist(err) {
		t.Log("no template.yaml: not checking that sam local would pass each variable")
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	root := doc.Content[0]
	globals := yamlKeys(yamlGet(root, "Globals", "Function", "Environment", "Variables"))
	out := map[string]map[string]bool{}
	resources := yamlGet(root, "Resources")
	for _, id := range yamlKeys(resources) {
		if n := yamlGet(resources, id, "Type"); n == nil || n.Value != "AWS::Serverless::Function" {
			continue
		}
		vars := map[string]bool{}
		for _, k := range append(globals, yamlKeys(yamlGet(resources, id, "Properties", "Environment", "Variables"))...) {
			vars[k] = true
		}
		out[id] = vars
	}
	return out
}

// yamlGet follows mapping keys; nil when one is missing.

// The YAML helpers are shared with the template tests.
var (
	yamlGet  = cfntemplate.Get
	yamlKeys = cfntemplate.Keys
)
