#!/usr/bin/env bash
# Checks that the CUDA build compiles (not run in CI: it needs nvcc).
# Debian: enable the non-free component, then `apt-get install -y nvidia-cuda-toolkit`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvcc >/dev/null || {
    echo "nvcc not found: apt-get install -y nvidia-cuda-toolkit (Debian non-free)" >&2
    exit 1
}
CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}" cargo build --release --features cuda
