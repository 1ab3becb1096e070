#!/usr/bin/env bash
# Starts the local Redis and PostgreSQL the integration tests need, if they are not already up.
# Used by .ci/run and by contributors (`npm run services`). Honours REDIS_URL / DATABASE_URL: when they
# point somewhere other than the local defaults, nothing is started and the servers are only checked.
set -euo pipefail

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && exec 3>&- 3<&-
}

wait_port() { # name host port
  for _ in $(seq 1 100); do
    if port_open "$2" "$3"; then return 0; fi
    sleep 0.1
  done
  echo "services: $1 did not come up on $2:$3" >&2
  return 1
}

hostport() { # url default_port -> "host port"
  node -e 'const u=new URL(process.argv[1]);console.log((u.hostname||"127.0.0.1").replace(/^\[|\]$/g,""), u.port||process.argv[2])' "$1" "$2"
}

read -r redis_host redis_port < <(hostport "$REDIS_URL" 6379)
read -r pg_host pg_port < <(hostport "$DATABASE_URL" 5432)

if port_open "$redis_host" "$redis_port"; then
  echo "services: Redis is up at $redis_host:$redis_port"
elif [[ "$redis_host" == "127.0.0.1" || "$redis_host" == "localhost" ]] && command -v redis-server >/dev/null; then
  echo "services: starting Redis on $redis_port"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port Redis "$redis_host" "$redis_port"
else
  echo "services: Redis is not reachable at $redis_host:$redis_port and cannot be started here" >&2
  exit 1
fi

if port_open "$pg_host" "$pg_port"; then
  echo "services: PostgreSQL is up at $pg_host:$pg_port"
elif [[ "$pg_host" == "127.0.0.1" || "$pg_host" == "localhost" ]] && command -v pg_ctlcluster >/dev/null; then
  version=$(ls /etc/postgresql | sort -n | tail -1)
  echo "services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port PostgreSQL "$pg_host" "$pg_port"
else
  echo "services: PostgreSQL is not reachable at $pg_host:$pg_port and cannot be started here" >&2
  exit 1
fi

# The integration tests use the `test` database; create it if this server lacks it.
if [[ "$pg_host" == "127.0.0.1" || "$pg_host" == "localhost" ]] && command -v psql >/dev/null; then
  db=$(node -e 'console.log(new URL(process.argv[1]).pathname.slice(1) || "test")' "$DATABASE_URL")
  if ! psql "$DATABASE_URL" -Atc 'select 1' >/dev/null 2>&1; then
    psql -h "$pg_host" -p "$pg_port" -U postgres -d postgres -c "create database \"$db\"" >/dev/null
    echo "services: created database $db"
  fi
fi
