# PostgreSQL 15 with idgraph built from this repository (multi-stage: the toolchain stays
# in the build stage). Used by docker-compose.yml.
FROM postgres:15-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential pkg-config libssl-dev libclang-dev clang curl ca-certificates \
      postgresql-server-dev-15 \
 && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
ENV PATH=/root/.cargo/bin:$PATH
RUN cargo install cargo-pgrx --version =0.18.1 --locked \
 && cargo pgrx init --pg15 /usr/lib/postgresql/15/bin/pg_config
WORKDIR /src
COPY . .
RUN cd pg_ext && cargo pgrx package --pg-config /usr/lib/postgresql/15/bin/pg_config \
 && cp ../sql/idgraph--*--*.sql ../target/release/idgraph-pg15/usr/share/postgresql/15/extension/ 2>/dev/null || true

# The HTTPS facade (docker-compose service `facade`, built with `target: facade`).
FROM build AS facade-build
# npm: facade/build.rs installs the pages' packages (cytoscape, swagger-ui-dist) from the
# lockfile and the binary embeds them.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN cargo build --release -p idgraph-facade

FROM debian:bookworm-slim AS facade
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* && useradd --system --no-create-home idgraph
COPY --from=facade-build /src/target/release/idgraph-facade /usr/local/bin/idgraph-facade
USER idgraph
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/idgraph-facade"]
CMD ["serve"]

# The default (last) stage: PostgreSQL with idgraph, for the `db` service.
FROM postgres:15-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends sqitch libdbd-pg-perl postgresql-15-pgtap \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/idgraph-pg15/usr/ /usr/
COPY sqitch /opt/idgraph/sqitch
COPY sql /opt/idgraph/sql
