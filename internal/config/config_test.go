package config

import (
	"strings"
	"testing"
)

func TestLoadDatabase(t *testing.T) {
	cases := []struct {
		name, url, maxConns string
		wantErr             string
		want                Database
	}{
		{"missing url", "", "", "DATABASE_URL is not set", Database{}},
		{"defaults", "postgres://h/db", "", "", Database{URL: "postgres://h/db"}},
		{"pool size", "postgres://h/db", "5", "", Database{URL: "postgres://h/db", MaxConns: 5}},
		{"bad pool size", "postgres://h/db", "many", "DB_MAX_CONNS", Database{}},
		{"pool size out of range", "postgres://h/db", "0", "DB_MAX_CONNS", Database{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DATABASE_URL", c.url)
			t.Setenv("DB_MAX_CONNS", c.maxConns)
			got, err := LoadDatabase()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to name %s", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("LoadDatabase = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}
