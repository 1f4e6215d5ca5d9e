#!/usr/bin/env bash
# docs/gallery/brushes.jpg: 3 unseen photos × 4 paintings, a trained brush next to the Gatys
# default (`atelier render` defaults) and Magenta's arbitrary network (`atelier instant --style`).
#
# The brushes train on a folder that holds none of the three test photos (coffee, plus the
# tubingen and golden_gate benchmark photos, which are only trained on, never shown). Brushes,
# renders and logs go to $OUT (default target/brush-gallery); the sheet to docs/gallery/.
# Env: SHARED (default ../shared), STEPS (step budget per brush; default: MINUTES of wall time),
# MINUTES (default 10), THREADS (default 2), EXTRA (more `atelier train` flags).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-target/brush-gallery}"
MINUTES="${MINUTES:-10}"
# shellcheck source=scripts/brush-setup.sh
. scripts/brush-setup.sh

CONTENTS=(chelsea.png astronaut.png rocket.jpg)
STYLES=(starry_night.jpg the_scream.jpg shipwreck.jpg woman-with-hat-matisse.jpg)
stem() { basename "${1%.*}"; }
budget=(--minutes "$MINUTES")
[[ -n "${STEPS:-}" ]] && budget=(--steps "$STEPS")

# Every brush first, so the training minutes run back to back on the cores they measure.
for s in "${STYLES[@]}"; do
    b="$OUT/$(stem "$s").safetensors"
    if [[ ! -s "$b" ]]; then
        # shellcheck disable=SC2086
        "$BIN" train --json --threads "$THREADS" --weights "$WEIGHTS" --style "$IMG/$s" \
            --photos "$OUT/photos" --out "$b" "${budget[@]}" ${EXTRA:-} |
            tail -1 >"$OUT/$(stem "$s").train.json"
    fi
done
for s in "${STYLES[@]}"; do
    b="$OUT/$(stem "$s").safetensors"
    for c in "${CONTENTS[@]}"; do
        n="$OUT/$(stem "$c")-$(stem "$s")"
        [[ -s "$n-brush.png" ]] || "$BIN" instant --threads "$THREADS" --size 512 \
            --brush "$b" --content "$IMG/$c" --out "$n-brush.png"
        [[ -s "$n-magenta.png" ]] || "$BIN" instant --threads "$THREADS" --size 512 \
            --style "$IMG/$s" --content "$IMG/$c" --out "$n-magenta.png"
        [[ -s "$n-gatys.png" ]] || "$BIN" render --json --threads "$THREADS" \
            --weights "$WEIGHTS" --content "$IMG/$c" --style "$IMG/$s" --out "$n-gatys.png" |
            tail -1 >"$n-gatys.json"
    done
done

# One row per photo and painting: painting, photo, brush, Gatys default, Magenta.
cells=()
for s in "${STYLES[@]}"; do
    for c in "${CONTENTS[@]}"; do
        n="$OUT/$(stem "$c")-$(stem "$s")"
        cells+=("$IMG/$s" "$IMG/$c" "$n-brush.png" "$n-gatys.png" "$n-magenta.png")
    done
done
"$SHEET" docs/gallery/brushes.jpg 5 180 "${cells[@]}"
echo "sheet in docs/gallery/brushes.jpg"
