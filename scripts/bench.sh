#!/usr/bin/env bash
# `make bench`: cold starts, DynamoDB calls, memory, hot-balance throughput, history page
# cost and wallet list cost of the release binaries, measured side by side in one run and
# printed as Markdown tables (bench/README.md keeps the latest numbers and says how to read
# them).
#
# Builds what it needs, starts nothing by hand: the runner starts the local DynamoDB itself
# (moto from .venv, `make tools`). Respects CARGO_TARGET_DIR. Arguments go to the runner:
# `--quick` (fewer repetitions, to try it out), `--only cold,calls,memory,hot,history,wallets`.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-$PWD/target}"

# Every function package (one per functions/<name>/), and the hello-world baseline.
functions=()
for manifest in functions/*/Cargo.toml; do
  functions+=("$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)")
done
packages=()
for function in "${functions[@]}"; do
  packages+=(-p "$function")
done

started=$SECONDS
# Two cargo invocations, on purpose: the runner depends on the test harness, which turns on
# pocketbook's test hooks (failpoints). Built together, feature unification would put them
# into the measured binaries; built apart, the functions are exactly what `make build` ships
# (the workspace's release profile), only for this machine's architecture.
echo "[bench] building ${functions[*]} and hello-world (release profile)" >&2
cargo build --locked --release "${packages[@]}" -p hello-world
# The runner is the measuring equipment, not what is measured: optimised, but without the
# size-tuned, link-time-optimised profile (much quicker to build), and unwinding on a panic
# so that it still stops the processes it started.
echo "[bench] building the bench runner" >&2
CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_PANIC=unwind cargo build --locked --release -p pocketbook-bench
echo "[bench] built in $((SECONDS - started)) s; measuring" >&2

mkdir -p "$target/bench"
"$target/release/pocketbook-bench" \
  --bin-dir "$target/release" \
  --functions "$(IFS=,; echo "${functions[*]}")" \
  --rustc "$(rustc -V)" \
  "$@" | tee "$target/bench/latest.md"
echo "[bench] done in $((SECONDS - started)) s; the tables are also in $target/bench/latest.md" >&2
