#!/bin/sh
# One-shot (service `slaflow-database`, postgres image): the role and the database of slaflow's
# store, in the PostgreSQL server Temporal also uses. Idempotent: each is created only if missing,
# so it works on a fresh volume and on one made before slaflow had a store. `slaflow setup` then
# migrates the schema (SLAFLOW_DATABASE_URL names this database, role and password).
# Connection from PGHOST/PGPORT/PGUSER/PGPASSWORD (a superuser: POSTGRES_USER of `postgresql`).
set -eu

DB_NAME=${DB_NAME:-slaflow}
DB_OWNER=${DB_OWNER:-slaflow}
DB_OWNER_PASSWORD=${DB_OWNER_PASSWORD:-slaflow}

# The healthcheck of `postgresql` can pass on the image's first-start init server, which listens
# on the Unix socket only; wait until the real server answers over the network.
attempt=0
until pg_isready --quiet; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "PostgreSQL at ${PGHOST:-localhost}:${PGPORT:-5432} did not become ready" >&2
    exit 1
  fi
  sleep 1
done

# \gexec runs the statement the SELECT yields, i.e. only when the role/database is missing.
psql --no-psqlrc --quiet --dbname postgres -v ON_ERROR_STOP=1 \
  -v db="$DB_NAME" -v owner="$DB_OWNER" -v password="$DB_OWNER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'owner', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL

echo "Database '${DB_NAME}' (owner '${DB_OWNER}') is ready for slaflow's store"
