#!/usr/bin/env bash
# Starts the studio in a virtual X display, lets it paint for a few seconds with Start pressed
# (ATELIER_AUTOSTART=1), and saves docs/screenshot.png: the whole screen (SCREEN, default
# 1280x800) with the window at WINDOW (default: the whole screen, as a maximized window;
# WINDOW=default keeps the size the studio opens with).
#
# Arguments are passed to `atelier studio` (e.g. `scripts/screenshot.sh --weights ../shared/weights/vgg16-hed.safetensors`).
# Needs: apt-get install -y xvfb xdotool imagemagick libgl1-mesa-dri libegl1
# Env: WAIT (seconds of painting, default 3), OUT (png path), DISPLAY_NUM (default 97),
#      CLICKS ("x,y x,y …" window coordinates clicked in order after WAIT, e.g. the Split button;
#      a "+N" item waits N more seconds).
#      ATELIER_SETTINGS=file opens an Atelier PNG's or a preset's settings first.
set -euo pipefail
cd "$(dirname "$0")/.."

WAIT="${WAIT:-3}"
OUT="${OUT:-docs/screenshot.png}"
DISPLAY_NUM="${DISPLAY_NUM:-97}"
SCREEN="${SCREEN:-1280x800}"
WINDOW="${WINDOW:-$SCREEN}"
IMPORT=/usr/bin/import # ImageMagick's; a `convert`/`import` earlier on PATH may be a stand-in

for tool in Xvfb xdotool "$IMPORT"; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y xvfb xdotool imagemagick libgl1-mesa-dri libegl1" >&2
        exit 1
    }
done

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin atelier
BIN="${CARGO_TARGET_DIR:-target}/release/atelier"

Xvfb ":$DISPLAY_NUM" -screen 0 "${SCREEN}x24" -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
APP_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    kill "$XVFB_PID" 2>/dev/null || true
}
trap cleanup EXIT
sleep 1

# Software GL (no GPU needed); no persistence so a developer's saved state doesn't leak in.
DISPLAY=":$DISPLAY_NUM" LIBGL_ALWAYS_SOFTWARE=1 ATELIER_AUTOSTART="${AUTOSTART:-1}" ATELIER_NO_PERSIST=1 \
    "$BIN" studio "$@" &
APP_PID=$!

WID=""
for _ in $(seq 100); do
    WID="$(DISPLAY=":$DISPLAY_NUM" xdotool search --name '^Atelier' 2>/dev/null | head -n1 || true)"
    [ -n "$WID" ] && break
    kill -0 "$APP_PID" 2>/dev/null || { echo "atelier exited early" >&2; exit 1; }
    sleep 0.2
done
[ -n "$WID" ] || { echo "no Atelier window appeared" >&2; exit 1; }

# No window manager under Xvfb: place the window ourselves.
DISPLAY=":$DISPLAY_NUM" xdotool windowmove "$WID" 0 0 || true
[ "$WINDOW" = default ] || DISPLAY=":$DISPLAY_NUM" xdotool windowsize "$WID" "${WINDOW%x*}" "${WINDOW#*x}" || true
sleep "$WAIT"
for xy in ${CLICKS:-}; do
    case "$xy" in
    +*) sleep "${xy#+}" ;; # "+N": wait N more seconds between clicks
    *)
        DISPLAY=":$DISPLAY_NUM" xdotool mousemove --window "$WID" "${xy%,*}" "${xy#*,}" click 1
        sleep 0.5
        ;;
    esac
done

mkdir -p "$(dirname "$OUT")"
DISPLAY=":$DISPLAY_NUM" "$IMPORT" -window root "$OUT"
echo "wrote $OUT ($(DISPLAY=":$DISPLAY_NUM" xdotool getwindowname "$WID"))"
