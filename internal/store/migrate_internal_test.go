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

// A no-transaction migration is one CREATE INDEX CONCURRENTLY IF NOT EXISTS on a
// schema-qualified table, read for its index, its table and its in-transaction form;
// anything else marked so is refused when the files are loaded, not when it runs.
func TestNoTransactionMigrationIsOneConcurrentIndex(t *testing.T) {
	t.Parallel()
	const marker = "---- tern: disable-tx ----\n-- why it is built concurrently\n"
	load := func(up string) ([]sqlMigration, error) {
		return loadMigrations(fstest.MapFS{"001_one.sql": {Data: []byte(up + migrationSplit + "\nDROP INDEX {{.schema}}.i;\n")}},
			map[string]string{"schema": `"t_a"`})
	}
	ms, err := load(marker + "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS a_b_idx\n    ON {{.schema}}.a (b, c DESC) WHERE b > 0;\n")
	if err != nil || len(ms) != 1 || ms[0].build == nil {
		t.Fatalf("a concurrent index: %+v, %v", ms, err)
	}
	if b := ms[0].build; b.name != "a_b_idx" || b.table != `"t_a".a` ||
		b.inTx != "CREATE UNIQUE INDEX IF NOT EXISTS a_b_idx\nON \"t_a\".a (b, c DESC) WHERE b > 0" {
		t.Errorf("read as %+v", *b)
	}
	if ms, err := load("CREATE INDEX CONCURRENTLY IF NOT EXISTS a_b_idx ON {{.schema}}.a (b);\n"); err != nil || ms[0].build != nil {
		t.Errorf("without the marker: %+v, %v; want an ordinary migration (which then fails inside its transaction)", ms, err)
	}
	for name, up := range map[string]string{
		"two statements":   "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_b_idx ON {{.schema}}.a (b);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_c_idx ON {{.schema}}.a (c);\n",
		"not an index":     "ALTER TABLE {{.schema}}.a ADD COLUMN d int;\n",
		"not concurrently": "CREATE INDEX IF NOT EXISTS a_b_idx ON {{.schema}}.a (b);\n",
		"no IF NOT EXISTS": "CREATE INDEX CONCURRENTLY a_b_idx ON {{.schema}}.a (b);\n",
		"unqualified":      "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_b_idx ON a (b);\n",
	} {
		if _, err := load(marker + up); err == nil || !strings.Contains(err.Error(), "001_one.sql") {
			t.Errorf("%s: %v, want it refused, naming the file", name, err)
		}
	}
}
