#!/usr/bin/env bash
# Atelier's CPU speed side by side with the PyTorch reference (../shared/reference/ref_gatys.py).
#
# Runs are interleaved (atelier, reference, atelier, ...) for every size and thread count, for
# ROUNDS rounds, because the second vCPU of these machines comes and goes. With HOG=1 a busy loop
# holds CPU 1 during the runs: the "second core not delivering" phase, on demand.
#
# Prints a markdown table of medians over the rounds (seconds) and the ratio atelier/PyTorch;
# raw JSON lines go to $OUT (default /tmp/bench-vs-reference.jsonl).
#
#   scripts/bench-vs-reference.sh                  # quiet machine
#   HOG=1 THREADS="1 2" scripts/bench-vs-reference.sh
#
# Needs the reference's venv (see ../shared/reference/README.md): PY=/opt/ref-venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
PY=${PY:-/opt/ref-venv/bin/python}
ROUNDS=${ROUNDS:-2}
SIZES=${SIZES:-"256 512"}
THREADS=${THREADS:-"1 2"}
REPS=${REPS:-5}
ITERS=${ITERS:-8}
OUT=${OUT:-/tmp/bench-vs-reference.jsonl}
WEIGHTS=$SHARED/weights/vgg16-hed.safetensors
CONTENT=$SHARED/images/tubingen.jpg
STYLE=$SHARED/images/starry_night.jpg
MODE=quiet

[ -x "$PY" ] || { echo "no reference python at $PY: see $SHARED/reference/README.md" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/atelier

hog_pid=
cleanup() { [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null || true; }
trap cleanup EXIT
if [ "${HOG:-0}" = 1 ]; then
    MODE=hog
    taskset -c 1 sh -c 'while :; do :; done' &
    hog_pid=$!
fi

: > "$OUT"
for round in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        for s in $SIZES; do
            echo "round $round: $s px, $t thread(s), $MODE" >&2
            line=$("$BIN" bench --weights "$WEIGHTS" --content "$CONTENT" --style "$STYLE" \
                --size "$s" --threads "$t" --reps "$REPS" 2>/dev/null)
            printf 'atelier\t%s\t%s\n' "$MODE" "$line" >> "$OUT"
            line=$("$PY" "$SHARED/reference/ref_gatys.py" --bench-fwd-bwd --content "$CONTENT" \
                --sizes "$s" --threads "$t" --reps "$REPS" 2>/dev/null | tail -1)
            printf 'torch\t%s\t%s\n' "$MODE" "$line" >> "$OUT"
            line=$("$PY" "$SHARED/reference/ref_gatys.py" --content "$CONTENT" --style "$STYLE" \
                --size "$s" --iters "$ITERS" --optimizer lbfgs --lbfgs-line-search strong_wolfe \
                --tv-weight 1e-5 --threads "$t" --out /tmp/bench-ref.png 2>/dev/null | tail -1)
            printf 'torch-iter\t%s\t%s\n' "$MODE" "$line" >> "$OUT"
        done
    done
done

"$PY" - "$OUT" <<'EOF'
import json, statistics, sys
rows = {}
for raw in open(sys.argv[1]):
    tool, mode, js = raw.rstrip("\n").split("\t", 2)
    r = json.loads(js)
    key = (mode, r["size"], r["threads"])
    d = rows.setdefault(key, {})
    if tool == "atelier":
        for k, v in (("a_fwd", r["median_fwd_s"]), ("a_fb", r["median_fwd_bwd_s"]),
                     ("a_it", r["median_lbfgs_iter_s"]), ("a_rss", r["peak_rss_mib"])):
            d.setdefault(k, []).append(v)
    elif tool == "torch":
        d.setdefault("t_fwd", []).append(r["median_fwd_s"])
        d.setdefault("t_fb", []).append(r["median_fwd_bwd_s"])
    else:
        d.setdefault("t_it", []).append(r["median_iter_s"])
        d.setdefault("t_rss", []).append(r["peak_rss_mib"])
med = lambda d, k: statistics.median(d[k]) if d.get(k) else float("nan")
print("| machine | size | threads | what | atelier s | PyTorch s | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (mode, size, t), d in sorted(rows.items()):
    for what, a, b in (("forward", "a_fwd", "t_fwd"), ("forward+backward", "a_fb", "t_fb"),
                       ("L-BFGS iteration", "a_it", "t_it")):
        x, y = med(d, a), med(d, b)
        print(f"| {mode} | {size} | {t} | {what} | {x:.3f} | {y:.3f} | {x / y:.2f} |")
EOF
