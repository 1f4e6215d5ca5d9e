#!/usr/bin/env bash
# Checks that the CUDA build compiles (not run in CI: the real build takes 15+ minutes on 2 cores).
#
#   scripts/check-cuda-build.sh [--cudnn] [--lean] [cargo args…]
#       The real release build, `cargo build --release --features cuda` (`cuda,cudnn` with
#       --cudnn: candle's convolutions through cuDNN), with a real nvcc 13.0 from PyPI; needs
#       only PyPI, no NVIDIA apt repository and no GPU. --lean links stubs in place of candle's
#       quantized MoE/MMQ kernels (unused by Atelier; ~45 MB of the binary, most of the nvcc
#       time): the build scripts/gpu-check.sh carries. The recipe, all done here:
#         1. a venv outside the repo ($ATELIER_CUDA_VENV, default ../cuda-venv) with nvcc and the
#            link-time libraries, every package pinned to 13.0 (unpinned, nvvm and crt come as
#            13.5 and ptxas 13.0 rejects their PTX: "Unsupported .version 9.5");
#         2. a link folder in it: unversioned names for cudart, cuBLAS, cuBLASLt, cuRAND and
#            NVRTC (candle's cudarc links them: `-lcudart -lnvrtc -lcurand -lcublas -lcublasLt`),
#            and stubs for the libraries that belong to the machine that runs it: libcuda (the
#            driver, soname libcuda.so.1) and, with --cudnn, libcudnn (soname libcudnn.so.9),
#            generated from cudarc's own list of their functions. Nothing of them is run here;
#            at run time the driver's libcuda and the CUDA libraries on LD_LIBRARY_PATH are used
#            (scripts/gpu-check.sh points it at the GPU machine's PyTorch environment);
#         3. PATH, CUDA_ROOT, CUDA_COMPUTE_CAP (default 90, Hopper: H100/H200) and LIBRARY_PATH
#            set for the build.
#       Output: $CARGO_TARGET_DIR/release/atelier (default target/), copied to atelier-cuda
#       (-cudnn, -lean after the flags), and the libraries it needs.
#       candle's cudarc pins dynamic linking (its Cargo features), so run-time loading is not an
#       option from here.
#   scripts/check-cuda-build.sh --env
#       Does steps 1 and 2 and prints the environment of step 3 (for `eval`).
#   scripts/check-cuda-build.sh --stub
#       No nvcc, minutes: `cargo check --all-targets --features cuda` against a copy of
#       candle-kernels whose PTX is empty. Type-checks all our CUDA-gated code and candle's CUDA
#       backend as we call it; compiles no kernel, links nothing, runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${ATELIER_CUDA_VENV:-$(cd .. && pwd)/cuda-venv}
pins=("nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-cccl==13.0.*"
    "nvidia-nvvm==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-cublas==13.0.*"
    "nvidia-curand==10.4.0.*" "nvidia-cuda-nvrtc==13.0.*")

# The cudarc sources cargo uses (for the stub libraries' function lists).
cudarc_src() {
    cargo metadata --format-version 1 --features cuda | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
print(os.path.dirname(next(p["manifest_path"] for p in d["packages"] if p["name"] == "cudarc")))'
}

# A shared library named $2 (soname $3) that defines every function cudarc's $1 bindings declare,
# as empty bodies: enough for the linker, never loaded.
make_stub() {
    local module=$1 file=$2 soname=$3 src
    src=$(cudarc_src)/src/$module/sys/mod.rs
    [ -f "$src" ] || { echo "cudarc has no $src: is the cudarc version new?" >&2; exit 1; }
    grep -oE '^pub unsafe fn [A-Za-z0-9_]+' "$src" | sort -u | sed 's/^pub unsafe fn \(.*\)/void \1(void) {}/' \
        >"$link/$module-stub.c"
    cc -shared -fPIC -Wl,-soname,"$soname" -o "$link/$file" "$link/$module-stub.c"
}

setup() {
    if [ ! -x "$venv/bin/pip" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q "${pins[@]}"
    cu=$(echo "$venv"/lib/python3*/site-packages/nvidia/cu13)
    [ -x "$cu/bin/nvcc" ] || { echo "no nvcc at $cu/bin/nvcc after pip install" >&2; exit 1; }
    link=$venv/atelier-link
    mkdir -p "$link"
    for lib in cudart.so.13 cublas.so.13 cublasLt.so.13 curand.so.10 nvrtc.so.13; do
        [ -f "$cu/lib/lib$lib" ] || { echo "missing $cu/lib/lib$lib after pip install" >&2; exit 1; }
        ln -sf "$cu/lib/lib$lib" "$link/lib${lib%%.so*}.so"
    done
    make_stub driver libcuda.so libcuda.so.1
    make_stub cudnn libcudnn.so libcudnn.so.9
}

print_env() {
    echo "export PATH=$cu/bin:\$PATH CUDA_ROOT=$cu CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}" \
        "LIBRARY_PATH=$link:$cu/lib"
}

# A copy of candle-kernels in $1 (absolute) for `--config patch.crates-io.candle-kernels.path`.
copy_kernels() {
    local manifest
    manifest=$(cargo metadata --format-version 1 --features cuda | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(p["manifest_path"] for p in d["packages"] if p["name"] == "candle-kernels"))')
    rm -rf "$1" && mkdir -p "$1"
    cp -r "$(dirname "$manifest")/src" "$(dirname "$manifest")/build.rs" \
        "$(dirname "$manifest")/Cargo.toml" "$1/"
}

# --lean: the same crate, whose build compiles every PTX kernel with nvcc as before, but links
# stubs (abort()) in place of the quantized MoE/MMQ kernels (libmoe.a: ~45 MB of sm_90 code that
# only GGUF models call, and most of the build's time). Atelier never calls them.
lean_kernels() {
    local dir=$1
    copy_kernels "$dir"
    mkdir -p "$dir/moe-stub"
    {
        echo '#include <stdlib.h>'
        grep -oE '^\s*pub fn [A-Za-z0-9_]+' "$dir/src/ffi.rs" | sed 's/.*pub fn //' | sort -u |
            sed 's/.*/void &(void) { abort(); }/'
    } >"$dir/moe-stub/stubs.c"
    cc -O2 -fPIC -c "$dir/moe-stub/stubs.c" -o "$dir/moe-stub/stubs.o"
    ar rcs "$dir/moe-stub/libmoe.a" "$dir/moe-stub/stubs.o"
    python3 - "$dir/build.rs" "$dir/moe-stub" <<'PY'
import sys
path, stub = sys.argv[1], sys.argv[2]
text = open(path).read()
a = text.find("    let mut moe_sources")
end = '    moe_builder.build_lib(out_dir.join("libmoe.a"))?;\n'
b = text.find(end)
link = 'println!("cargo:rustc-link-search={}", out_dir.display());'
if a < 0 or b < a or text.count(link) != 1:
    sys.exit("candle-kernels' build.rs changed: update --lean in scripts/check-cuda-build.sh")
keep = '    let is_target_msvc = env::var("TARGET").is_ok_and(|t| t.contains("msvc"));\n'
text = text[:a] + keep + text[b + len(end):]
text = text.replace(link, f'println!("cargo:rustc-link-search={stub}");')
open(path, "w").write("#![allow(unused)]\n" + text)
PY
}

mode=build
features=cuda
lean=
while [ $# -gt 0 ]; do
    case $1 in
    --stub) mode=stub ;;
    --env) mode=env ;;
    --cudnn) features=cuda,cudnn ;;
    --lean) lean=1 ;;
    *) break ;;
    esac
    shift
done

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target" && target=$(cd "$target" && pwd)
if [ -n "$lean" ] || [ $mode = stub ]; then
    # The patch rewrites Cargo.lock's source for candle-kernels: put the real one back afterwards.
    cp Cargo.lock "$target/Cargo.lock.orig"
    trap 'cp "$target/Cargo.lock.orig" Cargo.lock' EXIT
fi

case $mode in
env)
    setup >&2
    print_env
    ;;
build)
    setup
    eval "$(print_env)"
    name=atelier-${features/,/-}
    patch=()
    if [ -n "$lean" ]; then
        lean_kernels "$target/cuda-lean/candle-kernels"
        patch=(--config "patch.crates-io.candle-kernels.path=\"$target/cuda-lean/candle-kernels\"")
        name=$name-lean
    fi
    echo "nvcc: $(command -v nvcc) ($(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))," \
        "compute capability $CUDA_COMPUTE_CAP, features $features${lean:+, lean kernels}"
    start=$(date +%s)
    cargo build --release --features "$features" "${patch[@]}" "$@"
    # A copy named by its features, so builds sit side by side (the next build in the same
    # target folder replaces release/atelier).
    bin=$target/release/$name
    cp "$target/release/atelier" "$bin"
    echo "built in $(($(date +%s) - start)) s: $bin, $(($(stat -c %s "$bin") >> 20)) MiB;" \
        "needs $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
    ;;
stub)
    stub=$target/cuda-stub/candle-kernels
    copy_kernels "$stub"
    # The same crate without its nvcc build: no build-dependencies, and a build script that
    # writes an empty PTX string for every kernel module lib.rs declares.
    python3 - "$stub/Cargo.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"\n\[build-dependencies[^\n]*\](\n[^\[\n][^\n]*)*", "\n", text)
open(sys.argv[1], "w").write(text)
PY
    consts=$(sed -n 's/^mdl!(\([A-Z_]*\),.*/pub const \1: \&str = \\"\\";\\n/p' "$stub/src/lib.rs" | tr -d '\n')
    [ -n "$consts" ] || { echo "no kernel modules found in candle-kernels' lib.rs" >&2; exit 1; }
    cat >"$stub/build.rs" <<RS
fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("ptx.rs"), "$consts").expect("write ptx.rs");
}
RS
    CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" CARGO_TARGET_DIR="$target/cuda-stub" \
        cargo check --all-targets --features "${STUB_FEATURES:-cuda}" \
        --config "patch.crates-io.candle-kernels.path=\"$stub\""
    echo "${STUB_FEATURES:-cuda} feature type-checks (stub kernels: nothing compiled by nvcc, nothing linked)"
    ;;
esac
