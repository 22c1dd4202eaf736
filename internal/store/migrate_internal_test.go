package store

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/tern/v2/migrate"
)

func TestAppendMigrationsFillsPlaceholders(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"001_one.sql": {Data: []byte("CREATE TABLE {{.schema}}.a ();\n" + migrationSplit + "\nDROP TABLE {{.schema}}.a;\n")},
		"002_two.sql": {Data: []byte("GRANT SELECT ON {{.schema}}.a TO {{.role}};\n")},
	}
	m, err := migrate.NewMigratorEx(t.Context(), nil, "v", &migrate.MigratorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := appendMigrations(m, files, map[string]string{"schema": `"s"`, "role": `"r"`}); err != nil {
		t.Fatal(err)
	}
	if len(m.Migrations) != 2 || m.Migrations[0].Name != "001_one" || m.Migrations[1].Sequence != 2 {
		t.Fatalf("migrations = %+v", m.Migrations)
	}
	if got := m.Migrations[0]; !strings.Contains(got.UpSQL, `"s".a`) || !strings.Contains(got.DownSQL, `DROP TABLE "s".a`) || strings.Contains(got.UpSQL, "DROP") {
		t.Errorf("first migration = %q / %q", got.UpSQL, got.DownSQL)
	}
	if got := m.Migrations[1].UpSQL; got != "GRANT SELECT ON \"s\".a TO \"r\";\n" {
		t.Errorf("second migration = %q", got)
	}
	if err := appendMigrations(m, files, map[string]string{"schema": `"s"`}); err == nil {
		t.Error("a placeholder without a value was accepted")
	}
}
