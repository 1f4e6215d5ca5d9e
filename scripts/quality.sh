#!/usr/bin/env bash
# The before/after sheets of issue [12] (docs/gallery.md): the eight pairs rendered at the
# default before [12] (`OLD_FLAGS`, which reproduce it exactly with this build) and at today's
# default, side by side with the photo, the painting and, where it published one,
# jcjohnson/neural-style's output for the same pair.
#
#   NS=/path/to/neural-style/examples/outputs scripts/quality.sh
#
# Renders go to $OUT (default target/quality/, PNG with settings, not committed); a pair whose
# PNG exists is not rendered again. The chelsea sheet goes to docs/gallery/quality-chelsea.jpg.
# The Tübingen and Golden Gate photos may not be redistributed (../shared/images/LICENSES.md),
# so their sheet goes to $PRIVATE (default $OUT/private/), never to docs/.
# Env: SHARED (default ../shared), JOBS (parallel renders, default 2, each on 1 thread),
# NS (neural-style's examples/outputs folder: `git clone https://github.com/jcjohnson/neural-style`).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED="${SHARED:-../shared}"
JOBS="${JOBS:-2}"
OUT="${OUT:-target/quality}"
PRIVATE="${PRIVATE:-$OUT/private}"
NS="${NS:-}"
IMG="$SHARED/images"
WEIGHTS="$SHARED/weights/vgg16-hed.safetensors"
# The default of [7] (docs/speed.md): Gram matrices, max pooling, content weight 1e3 at every stage.
OLD_FLAGS="--style-loss gram --pooling max --content-weight 1e3 --detail-weight 1"
mkdir -p "$OUT/old" "$OUT/new" "$PRIVATE" docs/gallery

cargo build --release --bin atelier --example contact_sheet
BIN=target/release/atelier
SHEET=target/release/examples/contact_sheet

PAIRS="tubingen:the_scream tubingen:shipwreck tubingen:starry_night golden_gate:starry_night
chelsea:starry_night chelsea:the_scream chelsea:shipwreck chelsea:woman-with-hat-matisse"

file() { ls "$IMG/$1".* | head -1; }
render_one() { # old|new content style
    local which=$1 c=$2 s=$3 flags=""
    local png="$OUT/$which/$c-$s.png"
    [[ -s "$png" ]] && return 0
    [[ $which == old ]] && flags=$OLD_FLAGS
    # shellcheck disable=SC2086
    "$BIN" render --json --threads 1 --weights "$WEIGHTS" --content "$(file "$c")" \
        --style "$(file "$s")" --out "$png" $flags | tail -1 >"$OUT/$which/$c-$s.json"
    echo "$which $c × $s: $(grep -o '"seconds_total":[0-9.]*' "$OUT/$which/$c-$s.json")"
}
export -f render_one file
export BIN WEIGHTS IMG OUT OLD_FLAGS
for p in $PAIRS; do
    for which in old new; do echo "$which ${p%%:*} ${p##*:}"; done
done | xargs -P "$JOBS" -L 1 bash -c 'render_one "$@"' _

# One row per pair: photo, painting, before, after[, neural-style].
ns_name() { # content style → neural-style's file name
    local s=$2
    case $s in starry_night) s=starry ;; the_scream) s=scream ;; esac
    echo "$1_$s.png"
}
private=() chelsea=()
for p in $PAIRS; do
    c=${p%%:*} s=${p##*:}
    row=("$(file "$c")" "$(file "$s")" "$OUT/old/$c-$s.png" "$OUT/new/$c-$s.png")
    if [[ $c == chelsea ]]; then
        chelsea+=("${row[@]}")
    else
        ns="$NS/$(ns_name "$c" "$s")"
        [[ -n "$NS" && -s "$ns" ]] || ns=-
        private+=("${row[@]}" "$ns")
    fi
done
"$SHEET" docs/gallery/quality-chelsea.jpg 4 300 "${chelsea[@]}"
"$SHEET" "$PRIVATE/quality-tubingen-golden_gate.jpg" 5 384 "${private[@]}"
echo "sheets: docs/gallery/quality-chelsea.jpg, $PRIVATE/quality-tubingen-golden_gate.jpg (not for docs/)"
