# syntax=docker/dockerfile:1
#
# The `llmlab` server (REST API, dashboard, proxy) as a small image:
#
#   docker build -t llmlab .
#   docker run -p 8787:8787 -v llmlab-data:/data -e LLMLAB_SIGNUP=invite llmlab
#
# Needs BuildKit (Docker's default builder since 23.0; Fly.io's too) for the
# cache mounts. SQLite lives in the /data volume unless DATABASE_URL names
# another database. Fly.io, Railway and the sign-up policy: docs/deployment.md.

# The toolchain of rust-toolchain.toml (a test keeps the two equal).
ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG RUST_VERSION
# The image's compiler is the pinned one; this stops rustup from fetching the
# clippy and rustfmt components that rust-toolchain.toml lists for developers.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION}
WORKDIR /src
COPY . .
# The cargo registry and target/ are cache mounts: a rebuild compiles only what
# changed, and target/ never lands in a layer. The mounts are gone after this
# RUN, so the binary is copied out of target/ in the same command.
# Railway accepts cache mounts only with ids of its own: see docs/deployment.md.
RUN --mount=type=cache,id=llmlab-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=llmlab-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=llmlab-target,target=/src/target \
    cargo build --release --locked -p llmlab-cli \
    && cp target/release/llmlab /usr/local/bin/llmlab

FROM debian:bookworm-slim
# CA certificates for TLS to PostgreSQL and to the providers behind the proxy.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin llmlab \
    && install -d -o llmlab -g llmlab -m 0700 /data
COPY --from=build /usr/local/bin/llmlab /usr/local/bin/llmlab
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/llmlab-entrypoint
VOLUME /data
# HOME too: `llmlab` commands run in the container (`docker exec`) keep their files in the volume.
ENV DATABASE_URL=sqlite:///data/llmlab.db \
    LLMLAB_HOST=0.0.0.0 \
    LLMLAB_PORT=8787 \
    HOME=/data
EXPOSE 8787
# No curl in the image: bash asks /health over a plain TCP connection.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${LLMLAB_PORT} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# The entrypoint starts as root only to make a platform's volume (mounted owned
# by root on Fly.io and Railway) writable, then runs llmlab as the user llmlab.
ENTRYPOINT ["llmlab-entrypoint"]
CMD ["serve"]
