// Command migrate brings the control plane (public schema) at DATABASE_URL to the newest
// migration version, with the functions' database users, which get DATABASE_URL's password
// (devstack.LocalPasswords). `make migrate` runs it; deployed, the migrate Lambda does the same.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.LoadDatabase()
	if err != nil {
		return err
	}
	pool, err := database.Open(ctx, database.Config{DSN: cfg.URL, MaxConns: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Printf("control plane migrated from version %d to %d\n", res.From, res.To)
	// The functions (sam local, make dev) log in as their own users, with DATABASE_URL's password.
	return devstack.LocalPasswords(ctx, pool, cfg.URL)
}
