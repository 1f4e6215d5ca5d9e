#!/usr/bin/env bash
# The GPU check: prepared here (no GPU needed), run on the lent GPU machine in one call.
# Full story: docs/gpu.md. Not run in CI.
#
#   scripts/gpu-check.sh --prepare   here: fills .gpu/ (ignored by git, carried to the machine) with
#                                    the stripped CUDA build (xz), the VGG16 weights cut for the
#                                    check, the reference's inputs and two pictures, a GPU-capable
#                                    copy of ../shared/reference/ref_gatys.py; then prints --plan.
#                                    Needs a CUDA build first: scripts/check-cuda-build.sh --lean
#                                    (its release/atelier-cuda-lean, else atelier-cuda, or
#                                    ATELIER_CUDA_BIN=path); a `--cudnn --lean` build
#                                    (atelier-cuda-cudnn-lean, or ATELIER_CUDNN_BIN=path; empty:
#                                    none) rides along and is checked and timed beside it.
#   scripts/gpu-check.sh --plan      here: what would travel (the working tree plus .gpu/) and its
#                                    size against the device tool's 64 MiB, and what would run.
#   scripts/gpu-check.sh             there: the check (scripts/gpu/check.py), under 8 minutes:
#                                    CUDA found, exact losses vs the reference and vs the CPU,
#                                    speed at 512/1024/2048 side by side with PyTorch, the 512 and
#                                    2048 renders with wall time and GPU memory, instant at
#                                    1920×1080. Prints the report and one JSON line last; writes
#                                    report.json, report.md, log.txt and three previews to $OUT.
#
# The device call (from the session's own checkout: the tool sends the checkout the session
# started in, not a helper's worktree; .gpu/ must be prepared there):
#
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu"], timeout_s=480)
#
# 480 s covers the check's 390 s budget (GPU_CHECK_BUDGET_S; it skips what is left when time
# runs out, decisive steps first) plus unpacking; with the machine's start that is about 10 of
# the 15 minutes a session gets, leaving room for a short second call. Call give_back afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=$((64 << 20))
shared=${ATELIER_SHARED:-../shared}
# f32 through this conv index (24 = conv5_1: all the layers the check reads, exact); lower values
# carry the later convolutions in f16 to save space (see scripts/gpu/carry_weights.py).
f32_through=${GPU_WEIGHTS_F32_THROUGH:-24}

human() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# Bytes of what the device tool sends besides carried paths: tracked files and untracked files
# that git does not ignore.
tree_bytes() {
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

is_cuda_build() {
    readelf -d "$1" 2>/dev/null | grep -q 'Shared library: \[libcuda.so.1\]'
}

plan() {
    git check-ignore -q .gpu/ || { echo ".gpu/ is not ignored by git: it would travel twice" >&2; exit 1; }
    local tree carry total
    tree=$(tree_bytes)
    carry=$(find .gpu -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    total=$((tree + carry))
    echo "Working tree (tracked + untracked, not ignored): $(human "$tree")"
    echo "Carried: .gpu/ $(human "$carry")"
    if [ -d .gpu ]; then
        find .gpu -type f -printf '  %-40p %s\n' | sort | awk '{ printf "  %-40s %8.2f MiB\n", $1, $2 / 1048576 }'
    else
        echo "  (not prepared: run scripts/gpu-check.sh --prepare)"
    fi
    echo "Total: $(human "$total") of the device tool's $(human "$LIMIT")"
    if [ "$total" -ge "$LIMIT" ]; then
        echo "TOO LARGE by $(human $((total - LIMIT))): carry less (GPU_WEIGHTS_F32_THROUGH=17," \
            "no ATELIER_CUDNN_BIN) or commit/remove large untracked files" >&2
        exit 1
    fi
    if [ -f .gpu/manifest.json ]; then
        echo "Prepared: $(python3 -c 'import json; m = json.load(open(".gpu/manifest.json")); print(m["prepared"], "from", m["source"])')"
    fi
    echo
    echo "On the GPU machine it runs scripts/gpu/check.py:"
    python3 scripts/gpu/check.py --plan
    echo
    echo 'Device call: run(command="bash scripts/gpu-check.sh", carry=[".gpu"], timeout_s=480)'
}

# Runs a stripped CUDA binary here, before device time is spent on it: it must load with the
# pip CUDA libraries of scripts/check-cuda-build.sh's venv and a libcuda.so.1 whose every
# function answers CUDA_ERROR_NO_DEVICE, score the CPU losses, and refuse --device cuda cleanly.
smoke() {
    local bin=$1 dir=$2 venv libs out
    venv=${ATELIER_CUDA_VENV:-$(cd .. && pwd)/cuda-venv}
    libs=$(echo "$venv"/lib/python3*/site-packages/nvidia/cu13/lib)
    if [ ! -d "$libs" ] || [ ! -f "$venv/atelier-link/driver-stub.c" ]; then
        echo "load check skipped: no CUDA venv at $venv (scripts/check-cuda-build.sh makes it)"
        return
    fi
    mkdir -p "$dir"
    sed 's/void \(.*\)(void) {}/int \1(void) { return 100; }/' "$venv/atelier-link/driver-stub.c" >"$dir/s.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$dir/libcuda.so.1" "$dir/s.c"
    ln -sf "$venv/atelier-link/libcudnn.so" "$dir/libcudnn.so.9"
    local r=$shared/reference/ref_inputs
    LD_LIBRARY_PATH=$dir:$libs "$bin" losses --json --device cpu --size 256 --content "$r/tubingen_256.png" \
        --style "$r/starry_night_256.png" --weights "$shared/weights/vgg16-hed.safetensors" >/dev/null ||
        { echo "$bin does not run here (missing libraries?): see above" >&2; exit 1; }
    out=$(LD_LIBRARY_PATH=$dir:$libs "$bin" losses --device cuda --size 64 --content "$r/tubingen_256.png" \
        --style "$r/starry_night_256.png" --weights "$shared/weights/vgg16-hed.safetensors" 2>&1 || true)
    case $out in
    *CUDA_ERROR_NO_DEVICE*) echo "load check: $(basename "$bin") runs here on the CPU and refuses --device cuda without a GPU" ;;
    *) echo "$bin: unexpected answer to --device cuda without a GPU: $out" >&2; exit 1 ;;
    esac
}

pack() { # pack SRC DST.xz: xz, keeping SRC
    xz -T0 -9 -c "$1" >"$2"
}

prepare() {
    local rel=${CARGO_TARGET_DIR:-target}/release bin cudnn_bin
    bin=${ATELIER_CUDA_BIN:-$rel/atelier-cuda-lean}
    [ -n "${ATELIER_CUDA_BIN:-}" ] || [ -f "$bin" ] || bin=$rel/atelier-cuda
    # The cuDNN build rides along when it was built (ATELIER_CUDNN_BIN= leaves it out).
    cudnn_bin=${ATELIER_CUDNN_BIN-$rel/atelier-cuda-cudnn-lean}
    [ -f "$cudnn_bin" ] || cudnn_bin=
    [ -f "$bin" ] || { echo "no CUDA build at $bin: run scripts/check-cuda-build.sh (or set ATELIER_CUDA_BIN)" >&2; exit 1; }
    # GPU_CHECK_DRY=1: a CPU build is accepted, to rehearse the check here (GPU_CHECK_DRY=1
    # python3 scripts/gpu/check.py runs it on the CPU at small sizes).
    [ "${GPU_CHECK_DRY:-}" = 1 ] || is_cuda_build "$bin" || {
        echo "$bin does not link libcuda.so.1: not a --features cuda build; run scripts/check-cuda-build.sh --lean" >&2
        exit 1
    }
    [ -f "$shared/weights/vgg16-hed.safetensors" ] || { echo "no $shared/weights/vgg16-hed.safetensors (set ATELIER_SHARED)" >&2; exit 1; }
    rm -rf .gpu && mkdir -p .gpu/ref_inputs .gpu/images
    local tmp
    tmp=$(mktemp -d)
    strip -o "$tmp/atelier" "$bin"
    [ "${GPU_CHECK_DRY:-}" = 1 ] || smoke "$tmp/atelier" "$tmp/nocuda"
    if [ -n "${cudnn_bin:-}" ]; then
        is_cuda_build "$cudnn_bin" || { echo "$cudnn_bin is not a CUDA build" >&2; exit 1; }
        strip -o "$tmp/atelier-cudnn" "$cudnn_bin"
        smoke "$tmp/atelier-cudnn" "$tmp/nocuda"
        # One stream with a dictionary larger than both: the second binary shares most of its
        # bytes with the first and costs ~1 MB instead of ~6.
        tar -C "$tmp" -cf - atelier atelier-cudnn |
            xz -T1 --lzma2=preset=9e,dict=192MiB >.gpu/atelier.tar.xz
    else
        pack "$tmp/atelier" .gpu/atelier.xz
    fi
    python3 scripts/gpu/carry_weights.py "$shared/weights/vgg16-hed.safetensors" "$tmp/vgg16.safetensors" \
        --f32-through "$f32_through"
    python3 scripts/gpu/shuffle.py pack "$tmp/vgg16.safetensors" .gpu/vgg16.safetensors.shuf.xz
    cp "$shared"/reference/ref_inputs/* .gpu/ref_inputs/
    cp "$shared/images/tubingen.jpg" "$shared/images/starry_night.jpg" .gpu/images/
    python3 scripts/gpu/patch_ref.py "$shared/reference/ref_gatys.py" .gpu/ref_gatys_gpu.py
    local dtype=f32
    [ "$f32_through" -ge 24 ] || dtype="f32 through features.$f32_through, f16 after"
    python3 - "$bin" "$dtype" "$f32_through" <<'EOF'
import hashlib, json, subprocess, sys, time
bin_path, dtype = sys.argv[1], sys.argv[2]
needed = [l.split("[")[1].rstrip("]") for l in subprocess.run(["readelf", "-d", bin_path], capture_output=True,
          text=True).stdout.splitlines() if "Shared library" in l]
source = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
json.dump({"prepared": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "source": source,
           "binary": bin_path, "binary_sha256": hashlib.sha256(open(bin_path, "rb").read()).hexdigest(),
           "needed": needed, "weights": "vgg16.safetensors", "weights_dtype": dtype,
           "f32_through": int(sys.argv[3])},
          open(".gpu/manifest.json", "w"), indent=1)
EOF
    rm -rf "$tmp"
    plan
}

case "${1:-}" in
--prepare) prepare ;;
--plan) plan ;;
"")
    command -v nvidia-smi >/dev/null || {
        echo "no nvidia-smi: this runs on the GPU machine; here use --prepare and --plan" >&2
        exit 1
    }
    exec python3 scripts/gpu/check.py
    ;;
*)
    echo "usage: scripts/gpu-check.sh [--prepare|--plan]" >&2
    exit 2
    ;;
esac
