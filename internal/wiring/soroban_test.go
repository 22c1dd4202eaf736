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

// A pool of deployer seeds: several, comma-separated or as a JSON "seeds" array; one seed
// is a pool of one; a repeated or broken seed is a ConfigError that does not show it.
func TestParseSeeds(t *testing.T) {
	t.Parallel()
	a, b := keypair.MustRandom(), keypair.MustRandom()
	for _, c := range []struct {
		name, raw string
		want      []string
	}{
		{"one", a.Seed(), []string{a.Address()}},
		{"one as JSON", `{"seed":"` + a.Seed() + `"}`, []string{a.Address()}},
		{"comma-separated", a.Seed() + ", " + b.Seed(), []string{a.Address(), b.Address()}},
		{"JSON array", `{"seeds":["` + a.Seed() + `","` + b.Seed() + `"]}`, []string{a.Address(), b.Address()}},
		{"repeated", a.Seed() + "," + a.Seed(), nil},
		{"one broken", a.Seed() + ",SNOTASEED", nil},
		{"empty array", `{"seeds":[]}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSeeds(c.raw)
			if c.want == nil {
				if fault.Name(err) != "ConfigError" || strings.Contains(err.Error(), a.Seed()) {
					t.Errorf("err = %v", err)
				}
				return
			}
			var addrs []string
			for _, k := range got {
				addrs = append(addrs, k.Address())
			}
			if err != nil || strings.Join(addrs, ",") != strings.Join(c.want, ",") {
				t.Errorf("ParseSeeds = %v, %v; want %v", addrs, err, c.want)
			}
		})
	}
}
