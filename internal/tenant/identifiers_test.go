package tenant

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestSlug(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Acme Health", "acme-health"},
		{"Clínica São José", "clinica-sao-jose"},
		{"Cli\u0301nica", "clinica"},
		{"Straße & Söhne", "strasse-sohne"},
		{"Øresund Æble", "oresund-aeble"},
		{"  --Hello__World--  ", "hello-world"},
		{"北京医院", ""},
		{"", ""},
		{"!!! ??? ---", ""},
		{"Łódź Þórshöfn Ðakovo", "lodz-thorshofn-dakovo"},
		{"Œuvre Hôpital", "oeuvre-hopital"},
		{"İstanbul Sağlık", "istanbul-saglik"},
		{"ﬁnance ① ＡＢＣ", "finance-1-abc"},
		{"St. Mary's 24/7", "st-mary-s-24-7"},
		{"Mix 北京 Clinic", "mix-clinic"},
		{"x\"; DROP SCHEMA public CASCADE; --", "x-drop-schema-public-cascade"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := Slug(tt.in); got != tt.want {
				t.Fatalf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

var pgIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func assertSchemaName(t *testing.T, s string) {
	t.Helper()
	if !pgIdentifier.MatchString(s) || len(s) > MaxIdentifierBytes || !strings.HasPrefix(s, "t_") || !ValidSchemaName(s) {
		t.Fatalf("schema name %q (%d bytes) is not a safe identifier", s, len(s))
	}
}

func TestSchemaName(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	const suffix = "_0c1d2e3f4a5b"
	tests := []struct{ name, in, want string }{
		{"readable", "Acme Health", "t_acme_health" + suffix},
		{"unicode", "Clínica São José", "t_clinica_sao_jose" + suffix},
		{"injection", `x"; DROP SCHEMA public CASCADE; --`, "t_x_drop_schema_public_cascade" + suffix},
		{"255 ASCII runes", strings.Repeat("a", 255), "t_" + strings.Repeat("a", 48) + suffix},
		{"255 two-byte runes", strings.Repeat("é", 255), "t_" + strings.Repeat("e", 48) + suffix},
		{"255 CJK runes", strings.Repeat("院", 255), "t_tenant" + suffix},
		{"cut lands on separator", strings.Repeat("a", 47) + " bbb", "t_" + strings.Repeat("a", 47) + suffix},
		{"cut lands after separator", strings.Repeat("a", 46) + " bbb", "t_" + strings.Repeat("a", 46) + "_b" + suffix},
		{"empty slug", "北京医院", "t_tenant" + suffix},
		{"empty name", "", "t_tenant" + suffix},
		{"digits first", "112 Emergency", "t_112_emergency" + suffix},
		{"looks like a system schema", "pg_catalog", "t_pg_catalog" + suffix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := SchemaName(tt.in, id)
			if got != tt.want {
				t.Fatalf("SchemaName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			assertSchemaName(t, got)
			if again := SchemaName(tt.in, id); again != got {
				t.Fatalf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

func TestSchemaNameSameSlugDifferentTenants(t *testing.T) {
	t.Parallel()
	names := []string{"Acme Health", "acme-health", "ACME  HEALTH!"}
	seen := map[string]bool{}
	for _, n := range names {
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		got := SchemaName(n, id)
		assertSchemaName(t, got)
		if !strings.HasPrefix(got, "t_acme_health_") {
			t.Errorf("SchemaName(%q) = %q, want readable part t_acme_health_", n, got)
		}
		if seen[got] {
			t.Errorf("SchemaName(%q) = %q collides with another tenant", n, got)
		}
		seen[got] = true
	}
}

func TestSchemaNameExtremeIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []uuid.UUID{uuid.Nil, uuid.Max} {
		assertSchemaName(t, SchemaName(strings.Repeat("Z", 300), id))
	}
}

func TestValidSchemaName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"t_acme_health_0c1d2e3f4a5b", true},
		{"t_tenant_0c1d2e3f4a5b", true},
		{"t_" + strings.Repeat("a", 61), true},
		{"t_" + strings.Repeat("a", 62), false},
		{"t_", false},
		{"", false},
		{"public", false},
		{"pg_catalog", false},
		{"information_schema", false},
		{"acme_health", false},
		{"T_acme", false},
		{"t_acme-health", false},
		{"t_acme\n", false},
		{`t_x"; drop`, false},
		{"t_é", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := ValidSchemaName(tt.in); got != tt.want {
				t.Fatalf("ValidSchemaName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

var slugShape = regexp.MustCompile(`^([a-z0-9]+(-[a-z0-9]+)*)?$`)

func FuzzSchemaName(f *testing.F) {
	id := uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	for _, s := range []string{
		"Acme Health", "Clínica São José", "北京医院", "", "-", "_",
		strings.Repeat("é", 255), strings.Repeat("a", 47) + " b",
		`x"; DROP SCHEMA public CASCADE; --`, "\xff\xfe", "ﷺ ㍿ ß",
	} {
		f.Add(s, id[:])
	}
	f.Add("Acme", uuid.Nil[:])
	f.Add("Acme", uuid.Max[:])
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		var id uuid.UUID // short inputs are zero-padded rather than skipped
		copy(id[:], raw)
		got := SchemaName(name, id)
		if !ValidSchemaName(got) || !pgIdentifier.MatchString(got) {
			t.Fatalf("SchemaName(%q, %s) = %q is not valid", name, id, got)
		}
		if !strings.HasSuffix(got, "_"+id.String()[24:]) {
			t.Fatalf("SchemaName(%q, %s) = %q lacks the id suffix", name, id, got)
		}
		if again := SchemaName(name, id); again != got {
			t.Fatalf("not deterministic: %q then %q", got, again)
		}
		if s := Slug(name); !slugShape.MatchString(s) {
			t.Fatalf("Slug(%q) = %q", name, s)
		}
	})
}
