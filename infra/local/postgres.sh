#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at PGHOST:PGPORT (default 127.0.0.1:5432): it starts
# the machine's Debian cluster if one is installed but down, or else a project-local cluster
# in .local/pgdata when the server binaries (initdb, pg_ctl) are installed; then it creates
# DB_NAME (when given) if it does not exist. Used by make provision/dev/test and .ci/run.
set -euo pipefail

host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
user=${PGUSER:-postgres}

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "postgres.sh: the PostgreSQL client tools are not installed (apt-get install postgresql-client)," >&2
  echo "or set DATABASE_URL / TEST_DATABASE_URL to a server you run yourself." >&2
  exit 1
fi

if ! ready; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      echo "postgres.sh: starting PostgreSQL $version (cluster main)" >&2
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do ready && break; sleep 1; done
  fi
fi

# No system cluster: run one of the project's own, if the server binaries are installed.
if ! ready; then
  initdb=$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  bindir=$(dirname "${initdb:-/nonexistent/initdb}")
  if [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] && [ "$host" = 127.0.0.1 ]; then
    root=$(cd "$(dirname "$0")/../.." && pwd)
    data="$root/.local/pgdata"
    run() { "$@"; }
    if [ "$(id -u)" = 0 ]; then
      # initdb and pg_ctl refuse to run as root: as root, the cluster belongs to postgres
      # and lives where that user can reach it.
      data="/var/tmp/tenant-provisioning-pg-$port"
      run() { runuser -u postgres -- "$@"; }
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
      echo "postgres.sh: creating a project-local cluster in $data" >&2
      mkdir -p "$data"
      if [ "$(id -u)" = 0 ]; then chown postgres "$data"; chmod 700 "$data"; fi
      run "$bindir/initdb" -D "$data" -U "$user" --auth=trust -E UTF8 >/dev/null
    fi
    echo "postgres.sh: starting the project-local cluster on $host:$port" >&2
    run "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-c listen_addresses=$host -c port=$port -c unix_socket_directories=$data" start >/dev/null || true
    for _ in $(seq 1 30); do ready && break; sleep 1; done
  fi
fi

if ! ready; then
  echo "postgres.sh: PostgreSQL is not reachable at $host:$port." >&2
  echo "  Debian/Ubuntu: apt-get install postgresql, then: pg_ctlcluster --skip-systemctl-redirect <version> main start" >&2
  echo "  Or point DATABASE_URL (and TEST_DATABASE_URL for tests) at a server you run." >&2
  exit 1
fi

if [ -n "${DB_NAME:-}" ]; then
  exists=$(psql -h "$host" -p "$port" -U "$user" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
  if [ "$exists" != 1 ]; then
    createdb -h "$host" -p "$port" -U "$user" "$DB_NAME"
    echo "postgres.sh: created database $DB_NAME" >&2
  fi
fi
