#!/usr/bin/env bash
# Checks that the CUDA build compiles (not run in CI).
#
#   scripts/check-cuda-build.sh          full release build with the `cuda` feature. Needs nvcc
#                                        (Debian: enable non-free, `apt-get install -y
#                                        nvidia-cuda-toolkit`); candle-kernels' nvcc step alone
#                                        takes hours on 2 cores.
#   scripts/check-cuda-build.sh --stub   no nvcc, minutes: `cargo check --all-targets --features
#                                        cuda` against a copy of candle-kernels whose PTX is empty.
#                                        Type-checks all our CUDA-gated code and candle's CUDA
#                                        backend as we call it; compiles no kernel, links nothing,
#                                        runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --stub ]; then
    command -v nvcc >/dev/null || {
        echo "nvcc not found: apt-get install -y nvidia-cuda-toolkit (Debian non-free)," \
            "or run with --stub to type-check without it" >&2
        exit 1
    }
    exec env CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}" cargo build --release --features cuda
fi

# Absolute, so it works with a relative or an absolute CARGO_TARGET_DIR alike.
target=${CARGO_TARGET_DIR:-target}/cuda-stub
mkdir -p "$target" && target=$(cd "$target" && pwd)
stub=$target/candle-kernels
manifest=$(cargo metadata --format-version 1 --features cuda | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(p["manifest_path"] for p in d["packages"] if p["name"] == "candle-kernels"))')
rm -rf "$stub" && mkdir -p "$stub"
cp -r "$(dirname "$manifest")/src" "$stub/"
# The same crate without its nvcc build: no build-dependencies, and a build script that writes
# an empty PTX string for every kernel module lib.rs declares.
python3 - "$manifest" "$stub/Cargo.toml" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"\n\[build-dependencies[^\n]*\](\n[^\[\n][^\n]*)*", "\n", text)
open(sys.argv[2], "w").write(text)
EOF
consts=$(sed -n 's/^mdl!(\([A-Z_]*\),.*/pub const \1: \&str = \\"\\";\\n/p' "$stub/src/lib.rs" | tr -d '\n')
[ -n "$consts" ] || { echo "no kernel modules found in candle-kernels' lib.rs" >&2; exit 1; }
cat > "$stub/build.rs" <<EOF
fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("ptx.rs"), "$consts").expect("write ptx.rs");
}
EOF

# The patch rewrites Cargo.lock's source for candle-kernels: put the real one back afterwards.
cp Cargo.lock "$target/Cargo.lock.orig"
trap 'cp "$target/Cargo.lock.orig" Cargo.lock' EXIT
CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-12080}" CARGO_TARGET_DIR="$target" \
    cargo check --all-targets --features cuda \
    --config "patch.crates-io.candle-kernels.path=\"$stub\""
echo "cuda feature type-checks (stub kernels: nothing compiled by nvcc, nothing linked)"
