#!/bin/sh
# One-shot schema setup for Temporal on PostgreSQL (service `temporal-admin-tools`).
# Same steps as temporalio/samples-server compose/scripts/setup-postgres.sh. Every step is
# idempotent: `create` ignores an existing database, `setup-schema -v 0.0` leaves a newer
# schema alone and `update-schema` applies only missing versions, so re-running `docker compose up`
# against the persisted volume is safe.
set -eu

PG_HOST=${POSTGRES_SEEDS:-postgresql}
PG_PORT=${DB_PORT:-5432}
PG_USER=${POSTGRES_USER:-temporal}
PLUGIN=${DB:-postgres12}
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

echo "Waiting for PostgreSQL at ${PG_HOST}:${PG_PORT}..."
nc -z -w 10 "$PG_HOST" "$PG_PORT"

sql_tool() {
  # SQL_PASSWORD is read from the environment by temporal-sql-tool.
  temporal-sql-tool --plugin "$PLUGIN" --ep "$PG_HOST" -p "$PG_PORT" -u "$PG_USER" "$@"
}

echo "Setting up database 'temporal'..."
sql_tool --db temporal create
sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$SCHEMA_ROOT/temporal/versioned"

echo "Setting up database 'temporal_visibility'..."
sql_tool --db temporal_visibility create
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$SCHEMA_ROOT/visibility/versioned"

echo "PostgreSQL schema setup complete"
