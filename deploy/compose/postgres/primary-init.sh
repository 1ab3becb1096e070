#!/bin/sh
# First start of the primary (docker-entrypoint-initdb.d): the streaming-replication role, its password from the
# secret file, and the pg_hba line that lets it in from the stack's network.
set -eu
password="$(cat "$REPLICATION_PASSWORD_FILE")"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set password="$password" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
