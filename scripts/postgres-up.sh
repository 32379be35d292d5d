#!/usr/bin/env bash
# Install (from Debian's packages) and start a local PostgreSQL on 127.0.0.1:5432, with a role and
# database for Aurum's tests and benchmarks. Idempotent: safe to run on a machine where it already
# runs. Prints the connection URL on its last line.
#
#   AURUM_PG_DB   database to create (default: aurum)
set -euo pipefail
db="${AURUM_PG_DB:-aurum}"

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
    echo "installing PostgreSQL from Debian's packages..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk '$1=="'"$version"'" && $2=="main" {print $4}' | grep -qx online; then
    pg_ctlcluster "$version" main start
fi
# pg_ctlcluster waits for the server to accept connections; this confirms it.
runuser -u postgres -- pg_isready -h 127.0.0.1 -p 5432 >&2

# A password role for TCP connections from tests (local machine only; not a secret worth guarding).
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aurum') THEN
    CREATE ROLE aurum LOGIN SUPERUSER PASSWORD 'aurum';
  END IF;
END \$\$;
SQL
if ! runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    runuser -u postgres -- createdb -O aurum "$db"
fi
echo "postgres://aurum:aurum@127.0.0.1:5432/$db"
