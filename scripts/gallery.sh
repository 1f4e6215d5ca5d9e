#!/usr/bin/env bash
# Renders docs/gallery.md's contact sheets from ../shared/images with the shared VGG16 weights:
# 3 licensed content images × 4 paintings at the default settings, plus colour preservation,
# style blend, multi-scale and classic-vs-normalized loss examples.
#
# Full renders go to target/gallery/ (PNG with settings, not committed); the sheets, JPEG, go to
# docs/gallery/. Only public-domain/CC0 inputs are used (see ../shared/images/LICENSES.md).
# Env: SHARED (default ../shared), JOBS (parallel renders, default 2, each on 1 thread).
# Takes ~25 min on 2 free cores.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED="${SHARED:-../shared}"
JOBS="${JOBS:-2}"
IMG="$SHARED/images"
WEIGHTS="$SHARED/weights/vgg16-hed.safetensors"
OUT=target/gallery
DOCS=docs/gallery
mkdir -p "$OUT" "$DOCS"

cargo build --release --bin atelier --example contact_sheet
BIN=target/release/atelier
SHEET=target/release/examples/contact_sheet

CONTENTS=(chelsea.png astronaut.png rocket.jpg)
STYLES=(starry_night.jpg the_scream.jpg shipwreck.jpg woman-with-hat-matisse.jpg)

# name content style [flags…]: one render, skipped when its PNG exists (delete target/gallery to redo).
jobs_file="$OUT/jobs.txt"
: >"$jobs_file"
job() {
    echo "$*" >>"$jobs_file"
}
stem() { basename "${1%.*}"; }

for c in "${CONTENTS[@]}"; do
    for s in "${STYLES[@]}"; do
        job "$(stem "$c")-$(stem "$s")" "$c" "$s"
    done
done
job chelsea-starry_night-luminance chelsea.png starry_night.jpg --colour luminance
job chelsea-starry_night-histogram chelsea.png starry_night.jpg --colour histogram
job astronaut-blend astronaut.png starry_night.jpg,the_scream.jpg --style-blend-weights 1,1
job rocket-768-single rocket.jpg starry_night.jpg --size 768 --iters 200 --multiscale-start 0
job rocket-768-multiscale rocket.jpg starry_night.jpg --size 768 --iters 200 --multiscale-start 256
job chelsea-starry_night-classic chelsea.png starry_night.jpg --loss-scale classic \
    --content-weight 5 --style-weight 100 --multiscale-start 0

render_one() {
    local name=$1 content=$2 styles=$3
    shift 3
    local png="$OUT/$name.png"
    [[ -s "$png" ]] && return 0
    local style_paths
    style_paths=$(echo "$styles" | tr ',' '\n' | sed "s|^|$IMG/|" | paste -sd, -)
    "$BIN" render --json --threads 1 --weights "$WEIGHTS" --content "$IMG/$content" \
        --style "$style_paths" --out "$png" "$@" | tail -1 >"$OUT/$name.json"
    echo "$name: $(grep -o '"seconds_total":[0-9.]*\|"peak_rss_mib":[0-9.]*' "$OUT/$name.json" | paste -sd' ' -)"
}
export -f render_one
export BIN WEIGHTS IMG OUT
# shellcheck disable=SC2016
xargs -P "$JOBS" -L 1 bash -c 'render_one "$@"' _ <"$jobs_file"

# Sheet 1: styles across the top, contents down the side.
cells=(-)
for s in "${STYLES[@]}"; do cells+=("$IMG/$s"); done
for c in "${CONTENTS[@]}"; do
    cells+=("$IMG/$c")
    for s in "${STYLES[@]}"; do cells+=("$OUT/$(stem "$c")-$(stem "$s").png"); done
done
"$SHEET" "$DOCS/defaults.jpg" 5 240 "${cells[@]}"

"$SHEET" "$DOCS/colour.jpg" 5 240 "$IMG/chelsea.png" "$IMG/starry_night.jpg" \
    "$OUT/chelsea-starry_night.png" "$OUT/chelsea-starry_night-luminance.png" \
    "$OUT/chelsea-starry_night-histogram.png"
"$SHEET" "$DOCS/blend.jpg" 5 240 "$IMG/starry_night.jpg" "$OUT/astronaut-starry_night.png" \
    "$OUT/astronaut-blend.png" "$OUT/astronaut-the_scream.png" "$IMG/the_scream.jpg"
"$SHEET" "$DOCS/multiscale.jpg" 2 480 "$OUT/rocket-768-single.png" \
    "$OUT/rocket-768-multiscale.png"
"$SHEET" "$DOCS/loss-scale.jpg" 2 360 "$OUT/chelsea-starry_night-classic.png" \
    "$OUT/chelsea-starry_night.png"
echo "sheets in $DOCS/"
