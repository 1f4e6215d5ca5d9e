#!/usr/bin/env bash
# Before/after of the default render (docs/speed.md): renders the six pairs of issue [7] with two
# binaries at their own defaults, scores every picture under one objective (`atelier losses
# --image`, the flags' objective at 512 px), and prints a markdown table of wall time, stages,
# peak memory and score.
#
#   BEFORE=/path/to/old/atelier scripts/speed-compare.sh            # after = this checkout
#   ATELIER_CPU_ISA=avx2 THREADS=1 BEFORE=... scripts/speed-compare.sh
#
# An old binary comes from a worktree: git worktree add /tmp/before 1c3ef65 &&
# (cd /tmp/before && cargo build --release). Renders go to $OUT (default target/speed/), one
# folder per binary; a pair whose PNG exists is not rendered again (delete the folder to redo).
# Time it with both cores free: nothing else may run meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-target/speed}
THREADS=${THREADS:-0}
PAIRS=${PAIRS:-"tubingen.jpg:starry_night.jpg tubingen.jpg:the_scream.jpg chelsea.png:starry_night.jpg chelsea.png:the_scream.jpg chelsea.png:shipwreck.jpg chelsea.png:woman-with-hat-matisse.jpg"}
WEIGHTS=$SHARED/weights/vgg16-hed.safetensors
cargo build --release --quiet --bin atelier
AFTER=target/release/atelier

render_all() { # label binary
    local dir="$OUT/$1" bin=$2
    mkdir -p "$dir"
    for pair in $PAIRS; do
        local c=${pair%%:*} s=${pair##*:}
        local name="${c%.*}_${s%.*}"
        if [ ! -s "$dir/$name.json" ]; then
            /usr/bin/time -f "%e" -o "$dir/$name.time" "$bin" render --content "$SHARED/images/$c" \
                --style "$SHARED/images/$s" --weights "$WEIGHTS" --threads "$THREADS" \
                --out "$dir/$name.png" --json >"$dir/$name.json" 2>"$dir/$name.err"
        fi
        "$AFTER" losses --content "$SHARED/images/$c" --style "$SHARED/images/$s" \
            --weights "$WEIGHTS" --image "$dir/$name.png" --json >"$dir/$name.score"
    done
}

[ -n "${BEFORE:-}" ] && render_all before "$BEFORE"
render_all after "$AFTER"

python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
def row(label, name):
    d = f"{out}/{label}"
    if not os.path.exists(f"{d}/{name}.score"):
        return None
    j = json.loads(open(f"{d}/{name}.json").read().strip().splitlines()[-1])
    score = json.load(open(f"{d}/{name}.score"))["total"]
    wall = float(open(f"{d}/{name}.time").read().split()[-1])
    stages = ", ".join(f"{s['size']} px × {s['iterations']}: {s['seconds']:.0f} s" for s in j["stages"])
    return wall, stages, j["peak_rss_mib"], score
print("| pair | binary | wall s | stages | peak RSS MiB | score |")
print("|---|---|---|---|---|---|")
names = sorted({f[:-6] for l in ("before", "after") if os.path.isdir(f"{out}/{l}") for f in os.listdir(f"{out}/{l}") if f.endswith(".score")})
for n in names:
    for label in ("before", "after"):
        r = row(label, n)
        if r:
            print(f"| {n.replace('_', ' × ', 1)} | {label} | {r[0]:.1f} | {r[1]} | {r[2]:.0f} | {r[3]:.1f} |")
EOF
