#!/bin/bash
# Interleaved side-by-side runs: PyTorch reference vs this crate, 1 and 2 threads, 256 and 512.
# Run from the crate root after `cargo build --release --example bench`; appends JSON lines to $OUT.
B=${CARGO_TARGET_DIR:-/work/scratch/target-kernels}/release/examples/bench
PY=/opt/ref-venv/bin/python
R=/work/shared/reference/ref_gatys.py
OUT=${OUT:-bench/results.jsonl}
for round in 1 2; do
for t in 1 2; do
for s in 256 512; do
  echo "{\"round\": $round, \"uptime\": \"$(cat /proc/loadavg)\"}" >> $OUT
  $PY $R --bench-fwd-bwd --content /work/shared/images/tubingen.jpg --sizes $s --threads $t 2>/dev/null | grep '^{' >> $OUT
  $B --weights /work/shared/weights/vgg16-hed.safetensors --size $s --threads $t --reps 10 2>/dev/null >> $OUT
done; done; done
echo "{\"done\": true}" >> $OUT
