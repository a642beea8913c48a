# Pocketbook. `make dev` runs it locally, `make test` runs every test. Both set themselves up
# on a fresh machine: a project-local virtualenv (.venv) with the pinned tools from
# requirements-dev.txt (moto's server for the local DynamoDB, cargo-lambda), and the pinned
# Node.js clients of tests/clients (Juspay's, which tests/tests/juspay_clients.rs runs).

SHELL := /bin/bash
VENV := .venv
READY := $(VENV)/.ready
CLIENTS := tests/clients/node_modules/.ready
PYTHON ?= python3

.PHONY: dev test build bench tools clean

$(READY): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# npm ci installs exactly package-lock.json (and empties node_modules first).
$(CLIENTS): tests/clients/package-lock.json
	npm ci --prefix tests/clients --no-audit --no-fund
	touch $@

tools: $(READY) $(CLIENTS)

# The local DynamoDB (unless AWS_ENDPOINT_URL_DYNAMODB is set), the table, a development
# API key, and the HTTP API on http://127.0.0.1:9000: pocketbook-front, which passes the API's
# paths on to cargo lambda watch on 127.0.0.1:9001 (its Invoke API: never through the front).
dev: $(READY) $(CLIENTS)
	scripts/dev.sh

# Function binaries are built with the test hooks (failpoints) that the crash tests use;
# release builds never have them. `--all-targets` makes the build resolve features as
# `cargo test` does (dev-dependencies such as proptest turn on features of getrandom,
# bitflags and regex-syntax): otherwise the second step compiles the AWS SDK a second time.
# Tests start their own serialised moto server, or use AWS_ENDPOINT_URL_DYNAMODB when set.
test: $(READY) $(CLIENTS)
	$(VENV)/bin/cfn-lint template.yaml
	cargo build --locked --workspace --all-targets --features pocketbook/test-hooks
	cargo test --locked --workspace --features pocketbook/test-hooks

# Deployable zips: every function cross-compiled for arm64 (Graviton) with the release
# profile, and a table of binary and zip sizes.
build: $(READY)
	scripts/build.sh

# Cold starts, DynamoDB calls, memory, hot-balance throughput, history page cost: measured,
# not asserted. The latest numbers live in bench/README.md.
bench: $(READY)
	scripts/bench.sh

clean:
	rm -rf $(VENV) .dev
	cargo clean
