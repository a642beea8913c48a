#!/usr/bin/env bash
# `make build`: deployable zips for AWS Lambda (provided.al2023, arm64).
#   1. every function package under functions/ (found from functions/*/Cargo.toml) is
#      cross-compiled with `cargo lambda build --release --arm64 --output-format zip`, using the
#      cargo-lambda and zig pinned in .venv (cargo-lambda links with zig from the `ziglang`
#      package, so no C cross compiler, cmake or Docker is needed);
#   2. the binaries are checked: arm64, and no test hooks (failpoints) in them;
#   3. a table of bootstrap and zip sizes, checked against the targets below.
# Only function packages are built, never the workspace: `tests` (and the bench runner through
# it) enables the `pocketbook/test-hooks` feature, and Cargo's feature unification would put the
# failpoints into the function binaries. CARGO_TARGET_DIR is respected.
set -euo pipefail
cd "$(dirname "$0")/.."

# Lambda cold starts grow with the size of the code package.
readonly MAX_BOOTSTRAP=$((8 * 1024 * 1024))
readonly MAX_ZIP=$((4 * 1024 * 1024))
readonly TARGET=aarch64-unknown-linux-gnu
# Compiled in only with the `test-hooks` feature (shared/src/failpoint.rs).
readonly TEST_HOOK_MARKER=POCKETBOOK_FAILPOINTS

die() { echo "build: $*" >&2; exit 1; }

# The venv first: `cargo lambda` is .venv/bin/cargo-lambda, and it finds zig through the
# venv's python (`python3 -m ziglang`).
export PATH="$PWD/.venv/bin:$PATH"
command -v cargo-lambda > /dev/null || die "cargo-lambda is missing from .venv: run \`make tools\`"
python3 -c 'import ziglang' 2> /dev/null || die "the ziglang package is missing from .venv: run \`make tools\`"

if command -v rustup > /dev/null; then
  if ! rustup target list --installed | grep -qx "$TARGET"; then
    echo "build: the Rust standard library for $TARGET is not installed; installing it (rustup target add $TARGET)"
    rustup target add "$TARGET"
  fi
else
  echo "build: rustup not found; assuming the Rust standard library for $TARGET is installed" >&2
fi

# Function packages and their binaries, and the target directory, from Cargo itself (so a
# package's own name and [[bin]] names are honoured, and CARGO_TARGET_DIR / build.target-dir).
metadata="$(cargo metadata --no-deps --format-version 1 --locked)"
plan="$(python3 - "$PWD" "$metadata" <<'PY'
import glob, json, os, sys
root, meta = sys.argv[1], json.loads(sys.argv[2])
print(meta["target_directory"])
wanted = {os.path.realpath(p) for p in glob.glob(os.path.join(root, "functions", "*", "Cargo.toml"))}
found = set()
for pkg in meta["packages"]:
    manifest = os.path.realpath(pkg["manifest_path"])
    if manifest not in wanted:
        continue
    found.add(manifest)
    bins = [t["name"] for t in pkg["targets"] if "bin" in t["kind"]]
    if not bins:
        sys.exit(f"{manifest}: a function package without a binary")
    for b in bins:
        print(pkg["name"], b)
for missing in sorted(wanted - found):
    sys.exit(f"{missing} is not a member of the workspace")
PY
)"
target_dir="$(head -n 1 <<< "$plan")"
packages=()
binaries=()
while read -r pkg bin; do
  [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
  binaries+=("$bin")
done < <(tail -n +2 <<< "$plan")
[ "${#binaries[@]}" -gt 0 ] || die "no function packages under functions/"

pkg_args=()
for pkg in "${packages[@]}"; do pkg_args+=(-p "$pkg"); done
echo "build: ${packages[*]} (release, $TARGET) into $target_dir"
start=$SECONDS
# One invocation: the shared dependency graph is compiled once and the (slow, fat-LTO) links of
# the functions run in parallel. No package here enables test-hooks; the check below proves it.
cargo lambda build --release --arm64 --output-format zip --locked "${pkg_args[@]}"
echo "build: compiled in $((SECONDS - start)) s"

# Check what ships: the `bootstrap` inside each zip.
python3 - "$target_dir" "$MAX_BOOTSTRAP" "$MAX_ZIP" "$TEST_HOOK_MARKER" "${binaries[@]}" <<'PY'
import os, sys, zipfile
target_dir, max_bootstrap, max_zip, marker = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
mib = lambda n: n / (1024 * 1024)
problems, rows = [], []
for name in sys.argv[5:]:
    path = os.path.join(target_dir, "lambda", name, "bootstrap.zip")
    if not os.path.isfile(path):
        problems.append(f"{name}: {path} was not written")
        continue
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo("bootstrap")
        except KeyError:
            problems.append(f"{name}: {path} has no bootstrap")
            continue
        data = zf.read(info)
    zip_size = os.path.getsize(path)
    # ELF e_machine 183 = AArch64 (little endian, at offset 18).
    if data[:4] != b"\x7fELF" or int.from_bytes(data[18:20], "little") != 183:
        problems.append(f"{name}: bootstrap is not an arm64 ELF binary")
    if marker in data:
        problems.append(f"{name}: bootstrap contains test hooks ({marker.decode()}); "
                        "a package enables pocketbook/test-hooks")
    if info.file_size > max_bootstrap:
        problems.append(f"{name}: bootstrap is {info.file_size} bytes ({mib(info.file_size):.2f} MiB), "
                        f"over the {mib(max_bootstrap):.0f} MiB target")
    if zip_size > max_zip:
        problems.append(f"{name}: bootstrap.zip is {zip_size} bytes ({mib(zip_size):.2f} MiB), "
                        f"over the {mib(max_zip):.0f} MiB target")
    rows.append((name, info.file_size, zip_size, path))

if rows:
    w = max(len("function"), *(len(r[0]) for r in rows))
    print()
    print(f"{'function':<{w}}  {'bootstrap bytes':>15}  {'MiB':>6}  {'zip bytes':>10}  {'MiB':>6}")
    for name, b, z, _ in rows:
        print(f"{name:<{w}}  {b:>15}  {mib(b):>6.2f}  {z:>10}  {mib(z):>6.2f}")
    print(f"targets: bootstrap <= {mib(max_bootstrap):.0f} MiB, zip <= {mib(max_zip):.0f} MiB")
    print()
    print("zips:")
    for _, _, _, path in rows:
        print(f"  {path}")
if problems:
    print(file=sys.stderr)
    for p in problems:
        print(f"build: FAILED: {p}", file=sys.stderr)
    sys.exit(1)
PY
