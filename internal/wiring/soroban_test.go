package wiring

import (
	"strings"
	"testing"

	"github.com/stellar/go/keypair"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

func TestParseSeed(t *testing.T) {
	t.Parallel()
	kp := keypair.MustRandom()
	cases := []struct {
		name, raw string
		ok        bool
	}{
		{"bare seed", kp.Seed(), true},
		{"bare seed with newline", kp.Seed() + "\n", true},
		{"json seed", `{"seed":"` + kp.Seed() + `"}`, true},
		{"json secretSeed", `{"secretSeed":"` + kp.Seed() + `"}`, true},
		{"public key", kp.Address(), false},
		{"json without seed", `{"key":"` + kp.Seed() + `"}`, false},
		{"broken json", `{"seed":`, false},
		{"empty", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSeed(c.raw)
			if c.ok {
				if err != nil || got.Address() != kp.Address() {
					t.Fatalf("ParseSeed = %v, %v", got, err)
				}
				return
			}
			if fault.Name(err) != "ConfigError" || strings.Contains(err.Error(), kp.Seed()) || strings.Contains(err.Error(), "S"+kp.Seed()[1:6]) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
