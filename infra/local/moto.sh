#!/usr/bin/env bash
# Makes sure an AWS API emulator answers at AWS_ENDPOINT_URL (default http://127.0.0.1:4566,
# LocalStack's port, so the same settings serve both). If nothing answers there and the
# endpoint is local, it starts moto_server in the background and waits for it.
set -euo pipefail

endpoint=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
hostport=${endpoint#*://}
hostport=${hostport%%/*}
host=${hostport%:*}
port=${hostport##*:}
logfile=${MOTO_LOG:-${TMPDIR:-/tmp}/moto_server.$port.log}

answers() { curl -fsS -o /dev/null --max-time 2 "$endpoint/moto-api/" 2>/dev/null || curl -fsS -o /dev/null --max-time 2 "$endpoint/_localstack/health" 2>/dev/null; }

if answers; then exit 0; fi

case "$host" in
  127.0.0.1|localhost) ;;
  *) echo "moto.sh: no AWS API emulator answers at $endpoint, and it is not local: start it there." >&2; exit 1 ;;
esac

if ! command -v moto_server >/dev/null; then
  echo "moto.sh: nothing answers at $endpoint and moto_server is not installed." >&2
  echo "  Install it (pip install 'moto[server]'), or start LocalStack on that port (see README)." >&2
  exit 1
fi

echo "moto.sh: starting moto_server on $host:$port (log: $logfile)" >&2
nohup moto_server -H "$host" -p "$port" >"$logfile" 2>&1 &
for _ in $(seq 1 60); do
  if answers; then exit 0; fi
  sleep 0.5
done
echo "moto.sh: moto_server did not answer at $endpoint within 30 s; see $logfile" >&2
exit 1
