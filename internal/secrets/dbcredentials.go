package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// DBCredentials are database credentials in the JSON shape of RDS-managed and RDS-rotation
// secrets. Host, Port and DBName are zero when the secret does not hold them: RDS-managed
// master secrets only hold the username and password.
type DBCredentials struct {
	Username string
	Password Value
	Host     string
	Port     int
	DBName   string
	Engine   string
}

// LogValue leaves the password out altogether rather than logging a placeholder.
func (c DBCredentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", c.Username),
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("dbname", c.DBName),
		slog.String("engine", c.Engine),
	)
}

// DBCredentials reads secretID as database credentials; refresh bypasses the cache, as
// after a refused login.
func (c *Cache) DBCredentials(ctx context.Context, secretID string, refresh bool) (DBCredentials, error) {
	get := c.Get
	if refresh {
		get = c.Refresh
	}
	v, err := get(ctx, secretID)
	if err != nil {
		return DBCredentials{}, err
	}
	creds, msg := parseDBCredentials([]byte(v.Reveal()))
	if msg != "" {
		return DBCredentials{}, &fault.ConfigError{Op: "read database credentials from secret " + secretID, Msg: msg}
	}
	return creds, nil
}

// parseDBCredentials returns the credentials, or a message for what is wrong. The message
// names fields only, and no decoding error is kept as a cause: encoding/json quotes
// offending literals ("cannot unmarshal number 1234 …"), and those may be the password.
func parseDBCredentials(b []byte) (DBCredentials, string) {
	var raw struct {
		Username string          `json:"username"`
		Password string          `json:"password"`
		Host     string          `json:"host"`
		Port     json.RawMessage `json:"port"`
		DBName   string          `json:"dbname"`
		Engine   string          `json:"engine"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return DBCredentials{}, "secret is not the expected database credentials JSON: field " + typeErr.Field + " has the wrong type"
		}
		return DBCredentials{}, "secret is not the expected database credentials JSON object"
	}
	switch {
	case raw.Username == "":
		return DBCredentials{}, "secret has no username"
	case raw.Password == "":
		return DBCredentials{}, "secret has no password"
	}
	port, ok := parsePort(raw.Port)
	if !ok {
		return DBCredentials{}, "secret field port is not a port number"
	}
	return DBCredentials{
		Username: raw.Username,
		Password: NewValue(raw.Password),
		Host:     raw.Host,
		Port:     port,
		DBName:   raw.DBName,
		Engine:   raw.Engine,
	}, ""
}

// parsePort accepts 5432 and "5432": RDS writes a number, hand-made secrets often a string.
// Absent (or null) is 0.
func parsePort(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, true
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
	}
	port, err := strconv.Atoi(s)
	if err != nil || port < 1 || port > 65535 {
		return 0, false
	}
	return port, true
}
