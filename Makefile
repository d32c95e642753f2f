# idgraph — `make run` to try it, `make test` to test it. `make` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
DB ?= idgraph
TEST_DB ?= idgraph_test
SQITCH_TARGET = db:pg://postgres@/$(1)

.PHONY: help setup install run demo test test-core test-sqitch test-pgtap test-slo-alerts test-integration \
	      test-upgrade test-dump-restore test-compose lint fmt bench clean-db \
	      test-facade test-slo facade-stop bench-facade fuzz ui test-browser \
	      ha-up ha-down test-ha bench-ha

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: ## install missing packages and cargo-pgrx, start PostgreSQL 15 (no build)
	@scripts/setup.sh --no-install

install: setup ## build the extension (release) and install it into PostgreSQL 15
	@scripts/install.sh

run: install ## deploy into database $(DB) with sqitch, load the demo, print how to use it
	@scripts/run.sh $(DB)

test: install ## every test: core, sqitch round trip, pgTAP, integration, upgrade, dump/restore, compose
	@scripts/test.sh $(TEST_DB)

test-core: ## cargo test for core/ (no database)
	cargo test -p idgraph-core

test-pgtap: ## pgTAP suite on a fresh sqitch-deployed database
	@scripts/test.sh $(TEST_DB) pgtap

test-slo-alerts: ## SLO burn-rate alert rules checked and tested with promtool
	@scripts/test.sh $(TEST_DB) slo_alerts

test-integration: ## Rust integration tests against the real database
	@scripts/test.sh $(TEST_DB) integration

test-facade: ## HTTPS facade: Rust tests over real HTTPS + schemathesis contract run
	@scripts/test.sh $(TEST_DB) facade

test-slo: ## sli-sync against a real Prometheus (backfilled histories), recommendations checked by hand
	@scripts/test.sh $(TEST_DB) slo

test-browser: ## the explorer and /docs in headless Chromium (screenshots in target/artefacts/)
	@scripts/test.sh $(TEST_DB) browser

ui: facade/ui/node_modules/.package-lock.json ## npm ci the pages' packages (cytoscape, swagger-ui-dist, playwright-core) in facade/ui

# The same rule facade/build.rs applies: install when the tree is older than the lockfile.
facade/ui/node_modules/.package-lock.json: facade/ui/package-lock.json facade/ui/package.json
	cd facade/ui && npm ci --no-audit --no-fund --ignore-scripts
.PHONY: test-ops
test-ops: ## alert rules (promtool check + test), a real Prometheus scraping the facade, the dashboard check
	@scripts/test.sh $(TEST_DB) ops

facade-stop: ## stop the facade `make run` started
	@if [ -f target/facade-run/facade.pid ]; then kill -TERM $$(cat target/facade-run/facade.pid) 2>/dev/null || true; rm -f target/facade-run/facade.pid; fi

lint: ## rustfmt + clippy -D warnings
	cargo fmt --all --check
	cargo clippy -p idgraph-core --all-targets -- -D warnings
	cargo clippy -p idgraph --lib -- -D warnings
	cargo clippy -p idgraph-facade --all-targets -- -D warnings

fmt: ## format the Rust code
	cargo fmt --all

fuzz: ## coverage-guided fuzzing (AFL++ via cargo-afl), FUZZ_SECONDS per target (default 30)
	@scripts/fuzz.sh

bench: install ## benchmarks (pgbench + graph); results go to benches/README.md
	@benches/run.sh

bench-facade: install ## HTTPS single allocation (oha) next to the same SQL (pgbench)
	@benches/facade/run.sh

ha-up: install ## etcd + three Patroni-managed PostgreSQL nodes, each in its own network namespace, idgraph deployed
	@tests/ha/up.sh

ha-down: ## stop the HA cluster and remove its directory
	@tests/ha/down.sh

test-ha: install ## faults under load on the HA cluster (kill -9, network cut, switchover, replica lost) + PgBouncer, facade behind it
	@scripts/test.sh $(TEST_DB) ha

bench-ha: install ## allocations/s on the HA primary, resolutions/s on one and two replicas (docs/SCALING.md)
	@tests/ha/bench.sh
