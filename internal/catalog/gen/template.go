package main

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

const templateFile = "template.yaml"

// A capability's part of the template: the settings its code reads and the managed policy
// that lets it act. Each policy is a resource of template.yaml written by hand, which
// grants exactly the actions that capability's client calls.
type grant struct {
	env      []string // lines of Environment.Variables
	policies []string // managed policies, by logical id
}

// sesEnv is what config.LoadEmail reads.
var sesEnv = []string{
	"SES_FROM_ADDRESS: !Ref SesFromAddress",
	"SES_CONFIGURATION_SET: !If [HasSesConfigurationSet, !Ref SesConfigurationSet, !Ref AWS::NoValue]",
	"OPS_EMAIL: !If [HasOpsEmail, !Ref OpsEmail, !Ref AWS::NoValue]",
	"APP_BASE_URL: !Ref AppBaseUrl",
	"TENANT_URL_TEMPLATE: !If [HasTenantUrlTemplate, !Ref TenantUrlTemplate, !Ref AWS::NoValue]",
	"ACTIVATION_TTL: !Ref ActivationTtl",
}

var capabilities = map[catalog.Capability]grant{
	catalog.Email: {env: sesEnv, policies: []string{"EmailSendPolicy"}},
	// config.LoadSoroban.
	catalog.Contracts: {env: []string{
		"SOROBAN_RPC_URL: !Ref SorobanRpcUrl",
		"SOROBAN_NETWORK: !Ref SorobanNetwork",
		"DEPLOYER_SECRET_ARN: !If [CreateDeployerSecret, !Ref DeployerSecret, !Ref ExistingDeployerSecretArn]",
		"SOROBAN_WASM_HASH: !If [HasSorobanWasmHash, !Ref SorobanWasmHash, !Ref AWS::NoValue]",
		"SOROBAN_CONFIRM_TIMEOUT: !Ref SorobanConfirmTimeout",
	}, policies: []string{"DeployerSecretReadPolicy"}},
	// config.LoadWorkflow, for both.
	catalog.StartProvisioning:    {env: []string{"STATE_MACHINE_ARN: !Ref ProvisioningStateMachine"}, policies: []string{"ProvisioningStartPolicy"}},
	catalog.DescribeProvisioning: {env: []string{"STATE_MACHINE_ARN: !Ref ProvisioningStateMachine"}, policies: []string{"ProvisioningDescribePolicy"}},
	// config.LoadUpgradeWorkflow.
	catalog.StartUpgrades: {env: []string{"UPGRADE_STATE_MACHINE_ARN: !Ref UpgradeStateMachine"}, policies: []string{"UpgradeStartPolicy"}},
	// config.LoadAuditChain, for both.
	catalog.SignAudit:   {env: auditEnv, policies: []string{"AuditSignPolicy"}},
	catalog.VerifyAudit: {env: auditEnv, policies: []string{"AuditVerifyPolicy"}},
	// config.LoadEvents.
	catalog.PublishEvents: {env: []string{"EVENT_BUS_NAME: !Ref EventBus"}, policies: []string{"EventBusPutPolicy"}},
}

// auditEnv is what config.LoadAuditChain reads.
var auditEnv = []string{"AUDIT_KEY_ID: !GetAtt AuditSigningKey.Arn", "AUDIT_BUCKET: !Ref AuditDigestBucket"}

// legacyLogGroups keeps the logical id a log group had before the catalogue named them:
// a log group has a fixed name, and a new logical id for the same name would fail the
// stack update (CloudFormation creates the new resource before deleting the old).
var legacyLogGroups = map[string]string{"MigrateControlPlaneFunction": "MigrateLogGroup"}

// LogGroupID is the logical id of f's log group.
func logGroupID(f catalog.Function) string {
	if id, ok := legacyLogGroups[f.LogicalID]; ok {
		return id
	}
	return strings.TrimSuffix(f.LogicalID, "Function") + "LogGroup"
}

// template rewrites the generated regions of template.yaml: the functions with their log
// groups, the list of functions the errors alarms are made for, and the list of database
// users the functions log in as, which a connect policy is made for.
func template(fns []catalog.Function, tpl []byte) ([]byte, error) {
	var b bytes.Buffer
	for i, f := range fns {
		if i > 0 {
			b.WriteString("\n")
		}
		functionResources(&b, f)
	}
	out, err := replaceRegion(tpl, "functions", b.Bytes())
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(fns))
	for i, f := range fns {
		ids[i] = f.LogicalID
	}
	list := "    - [" + strings.Join(ids, ", ") + "]\n"
	if out, err = replaceRegion(out, "alarmed functions", []byte(list)); err != nil {
		return nil, err
	}
	var users []string
	for _, f := range fns {
		if u := string(f.DBUser()); u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return replaceRegion(out, "database users", []byte("    - ["+strings.Join(users, ", ")+"]\n"))
}

// functionResources writes f's function and log group.
func functionResources(b *bytes.Buffer, f catalog.Function) {
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(b, format, args...)
		b.WriteString("\n")
	}
	w(1, "%s:", f.LogicalID)
	w(2, "Type: AWS::Serverless::Function")
	if f.Kind != catalog.CustomResource {
		// New code never meets an old control-plane schema.
		w(2, "DependsOn: ControlPlaneMigrations")
	}
	w(2, "Metadata: {BuildMethod: makefile}")
	w(2, "Properties:")
	w(3, "Description: %s", strconv.Quote(description(f)))
	if _, err := strconv.Atoi(f.Concurrency); err == nil {
		w(3, "ReservedConcurrentExecutions: %s", f.Concurrency)
	} else {
		w(3, "ReservedConcurrentExecutions: !Ref %s", f.Concurrency)
	}
	if f.Timeout != 0 {
		w(3, "Timeout: %d", f.Timeout)
	}
	if f.Memory != 0 {
		w(3, "MemorySize: %d", f.Memory)
	}
	switch env := environment(f); len(env) {
	case 0:
	case 1:
		w(3, "Environment: {Variables: {%s}}", env[0])
	default:
		w(3, "Environment:")
		w(4, "Variables:")
		for _, e := range env {
			w(5, "%s", e)
		}
	}
	switch f.Kind {
	case catalog.Route:
		method, path, _ := strings.Cut(f.Route, " ")
		auth := "{Authorizer: AdminJwt, AuthorizationScopes: [!Ref AdminScope]}"
		if f.ReadOnly() {
			auth = "{Authorizer: AdminJwt, AuthorizationScopes: [!Ref ReadScope, !Ref AdminScope]}"
		}
		if f.Public {
			auth = "{Authorizer: NONE}"
		}
		w(3, "Events:")
		w(4, "Route: {Type: HttpApi, Properties: {ApiId: !Ref AdminApi, Method: %s, Path: \"%s\",", method, path)
		w(5, "Auth: %s}}", auth)
	case catalog.Scheduled:
		w(3, "Events:")
		w(4, "Schedule:")
		w(5, "Type: ScheduleV2")
		// The input is events/<LogicalID>/event.json's; a missed run is made up by the next.
		w(5, "Properties: {ScheduleExpression: %s, Input: \"{}\", RetryPolicy: {MaximumRetryAttempts: 0}}", f.Schedule)
	}
	w(3, "LoggingConfig: {LogGroup: !Ref %s}", logGroupID(f))
	if ps := policies(f); len(ps) == 1 {
		w(3, "Policies: [!Ref %s]", ps[0])
	} else {
		w(3, "Policies:")
		for _, p := range ps {
			w(4, "- !Ref %s", p)
		}
	}
	// Deleted with the stack: retention bounds it, and a retained named group would block a
	// re-created stack. One line a function, to keep the template within its budget.
	w(1, "%s: {Type: AWS::Logs::LogGroup, DeletionPolicy: Delete, UpdateReplacePolicy: Delete,", logGroupID(f))
	w(2, "Properties: {LogGroupName: !Sub \"/aws/lambda/${AWS::StackName}/%s\", RetentionInDays: !Ref LogRetentionDays}}", f.Dir)
}

// description is the template's Description of f: where it runs, what it does, its folder.
func description(f catalog.Function) string {
	var at string
	switch f.Kind {
	case catalog.Step:
		at = "Step " + f.State
	case catalog.Route:
		at = f.Route
		if f.Public {
			at += " (public)"
		}
	case catalog.Scheduled:
		at = "Scheduled " + f.Schedule
	default:
		at = "Custom resource"
	}
	return fmt.Sprintf("%s: %s (functions/%s)", at, f.Doc, f.Dir)
}

// environment lists f's variables beyond the Globals': its pool size, a route's scope, and
// its capabilities' settings, each once.
func environment(f catalog.Function) []string {
	var env []string
	if f.DBUser() == catalog.MigrationUser {
		// The master user's credentials: the migration's alone (wiring.Pool refuses them
		// to any other function).
		env = append(env, "DB_SECRET_ARN: !If [UseExistingDbSecret, !Ref ExistingDbSecretArn, !GetAtt Database.MasterUserSecret.SecretArn]")
	}
	if f.DBConns != 0 {
		env = append(env, fmt.Sprintf("DB_MAX_CONNS: %q", strconv.Itoa(f.DBConns)))
	}
	if f.Kind == catalog.Route {
		env = append(env, "ADMIN_SCOPE: !Ref AdminScope")
	}
	if f.ReadOnly() {
		env = append(env, "READ_SCOPE: !Ref ReadScope")
	}
	seen := map[string]bool{}
	for _, c := range f.Needs {
		for _, e := range capabilities[c].env {
			if name, _, _ := strings.Cut(e, ":"); !seen[name] {
				seen[name] = true
				env = append(env, e)
			}
		}
	}
	return env
}

// policies lists f's managed policies: the one that lets it log in to the database as its
// user (the migration: read the master secret), then its capabilities'.
func policies(f catalog.Function) []string {
	out := []string{dbConnectPolicy(f.DBUser())}
	for _, c := range f.Needs {
		out = append(out, capabilities[c].policies...)
	}
	return out
}

// replaceRegion replaces the lines between "# BEGIN GENERATED <name>" and
// "# END GENERATED <name>" (each on a line of its own, indented as the region) with body.
func replaceRegion(tpl []byte, name string, body []byte) ([]byte, error) {
	begin := regexp.MustCompile(`(?m)^[ \t]*# BEGIN GENERATED ` + regexp.QuoteMeta(name) + `\b.*\n`)
	end := regexp.MustCompile(`(?m)^[ \t]*# END GENERATED ` + regexp.QuoteMeta(name) + `\b.*\n`)
	b := begin.FindIndex(tpl)
	if b == nil {
		return nil, fmt.Errorf("%s has no line # BEGIN GENERATED %s", templateFile, name)
	}
	e := end.FindIndex(tpl[b[1]:])
	if e == nil {
		return nil, fmt.Errorf("%s has no line # END GENERATED %s after its BEGIN", templateFile, name)
	}
	var out bytes.Buffer
	out.Write(tpl[:b[1]])
	out.Write(body)
	out.Write(tpl[b[1]+e[0]:])
	return out.Bytes(), nil
}

// dbConnectPolicy is the managed policy that lets a function log in as user: the template's
// Fn::ForEach::DbConnectPolicies makes one per user, named as CloudFormation names them
// from DbConnect&{User}Policy (the user's name without its non-alphanumerics); the
// migration's is the master secret's.
func dbConnectPolicy(user catalog.DBUser) string {
	if user == catalog.MigrationUser {
		return "DatabaseSecretReadPolicy"
	}
	return "DbConnect" + strings.ReplaceAll(string(user), "_", "") + "Policy"
}
