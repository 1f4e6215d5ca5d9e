#!/usr/bin/env bash
# docs/gallery/brush-adversarial.jpg: Starry Night brushes trained alike for a fixed number of
# steps (default 400: 30 % distillation, then VGG losses), with and without the patch
# discriminator, under both style matches (gram, mixed). One row per unseen photo, columns
# gram + discriminator, gram, mixed + discriminator, mixed. Brushes, pictures and logs go to
# $OUT (default target/brush-adversarial).
# Env: SHARED (default ../shared), STEPS (default 400), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-target/brush-adversarial}"
STEPS="${STEPS:-400}"
# shellcheck source=scripts/brush-setup.sh
. scripts/brush-setup.sh

RUNS=("gram 1000" "gram 0" "mixed 1000" "mixed 0")
for r in "${RUNS[@]}"; do
    read -r loss adv <<<"$r"
    b="$OUT/$loss-$adv.safetensors"
    [[ -s "$b" ]] || "$BIN" train --json --threads "$THREADS" --weights "$WEIGHTS" \
        --style "$IMG/starry_night.jpg" --photos "$OUT/photos" --out "$b" --steps "$STEPS" \
        --style-loss "$loss" --adversarial "$adv" | tail -1 >"$OUT/$loss-$adv.train.json"
done
cells=()
for c in chelsea.png astronaut.png rocket.jpg; do
    for r in "${RUNS[@]}"; do
        read -r loss adv <<<"$r"
        o="$OUT/${c%.*}-$loss-$adv.png"
        [[ -s "$o" ]] || "$BIN" instant --threads "$THREADS" --size 512 \
            --brush "$OUT/$loss-$adv.safetensors" --content "$IMG/$c" --out "$o"
        cells+=("$o")
    done
done
"$SHEET" docs/gallery/brush-adversarial.jpg 4 220 "${cells[@]}"
echo "sheet in docs/gallery/brush-adversarial.jpg"
