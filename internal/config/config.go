// Package config reads the process environment once, into typed settings, and fails fast
// naming the variable that is missing or malformed.
package config

import (
	"fmt"
	"os"
	"strconv"
)

// Database says how functions reach PostgreSQL.
type Database struct {
	// URL is the connection string (DATABASE_URL). Deployed, the credentials come from the
	// secret named by DB_SECRET_ARN instead and this holds host, database and TLS settings.
	URL string
	// MaxConns is the pool size (DB_MAX_CONNS); 0 keeps the default for Lambda.
	MaxConns int32
}

// LoadDatabase reads the database settings.
func LoadDatabase() (Database, error) {
	var db Database
	db.URL = os.Getenv("DATABASE_URL")
	if db.URL == "" {
		return db, fmt.Errorf("config: DATABASE_URL is not set (a postgres:// URL; see .env.example)")
	}
	if v := os.Getenv("DB_MAX_CONNS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 || n > 100 {
			return db, fmt.Errorf("config: DB_MAX_CONNS must be an integer between 1 and 100")
		}
		db.MaxConns = int32(n)
	}
	return db, nil
}
