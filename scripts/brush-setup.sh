# Sourced by the brush scripts (brush-gallery.sh, brush-adversarial.sh) after they set OUT:
# builds the CLI and the sheet maker, and links the training photos (coffee, plus the tubingen
# and golden_gate benchmark photos, never shown in a sheet) into $OUT/photos.
# Sets SHARED (default ../shared), THREADS (default 2), IMG, WEIGHTS, BIN, SHEET.
SHARED="${SHARED:-../shared}"
THREADS="${THREADS:-2}"
IMG="$SHARED/images"
WEIGHTS="$SHARED/weights/vgg16-hed.safetensors"
mkdir -p "$OUT/photos" docs/gallery

cargo build --release --bin atelier --example contact_sheet
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/atelier}"
SHEET="${SHEET:-${CARGO_TARGET_DIR:-target}/release/examples/contact_sheet}"
for p in coffee.png tubingen.jpg golden_gate.jpg; do
    ln -sf "$(realpath "$IMG/$p")" "$OUT/photos/$p"
done
