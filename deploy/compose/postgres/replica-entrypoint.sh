#!/bin/sh
# The streaming replica: on an empty data dir, a base backup of the primary (creating its replication slot) with
# standby.signal and primary_conninfo written (-R); then the image's own entrypoint starts PostgreSQL as a standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
  PGPASSWORD="$(cat "$REPLICATION_PASSWORD_FILE")"
  export PGPASSWORD
  until gosu postgres pg_basebackup --host "$PRIMARY_HOST" --username replicator --pgdata "$PGDATA" \
    --wal-method stream --write-recovery-conf --create-slot --slot "$REPLICATION_SLOT" --progress; do
    echo "replica: primary not ready, retrying in 2 s" >&2
    rm -rf "${PGDATA:?}"/*
    sleep 2
  done
  unset PGPASSWORD
fi
exec docker-entrypoint.sh "$@"
