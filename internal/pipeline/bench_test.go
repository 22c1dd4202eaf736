package pipeline

import (
	"fmt"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// BenchmarkProvisionTenant runs every database step for one new tenant per iteration
// (reserve, claim, schema and role, migrations, seed with an unusable password, contract
// address, activation), each in its own transaction with its log rows, as Lambda runs them.
func BenchmarkProvisionTenant(b *testing.B) {
	e := newEnv(b)
	i := 0
	for b.Loop() {
		i++
		tn := e.reserve(fmt.Sprintf("Bench Clinic %d", i))
		e.runSteps(tn.ID, len(dbSteps))
	}
}

// BenchmarkHashPassword is the argon2id hash an activation computes (and the seed step
// computed for every tenant before it held an unusable marker instead).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := tenantdb.HashPassword("a benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepOverhead is what every step pays besides its work: StoreContractAddress
// with the id already stored does no work, so this is its IN_PROGRESS row, transaction,
// row lock, COMPLETED row, durable commit and log line.
func BenchmarkStepOverhead(b *testing.B) {
	e := newEnv(b)
	tn := e.reserve("Overhead Clinic")
	e.runSteps(tn.ID, 5) // up to and including StoreContractAddress
	in := StoreContractAddressInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), ContractID: testContractID}
	for b.Loop() {
		if _, err := e.steps.StoreContractAddress(e.ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
