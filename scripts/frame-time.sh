#!/usr/bin/env bash
# Measures the studio's UI frame time while a run computes: starts the studio under Xvfb with
# Start pressed (default settings: 512 px, L-BFGS), moves the pointer over the window for
# DURATION seconds (so the UI repaints as when an artist works with it), and reports the
# percentiles of eframe's per-frame CPU time (logged via ATELIER_FRAME_LOG).
# Needs: apt-get install -y xvfb xdotool libgl1-mesa-dri libegl1
# Arguments go to `atelier studio` (e.g. --weights PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-30}"
DISPLAY_NUM="${DISPLAY_NUM:-96}"
LOG="${LOG:-/tmp/atelier-frames.txt}"
cargo build --release --bin atelier
BIN="${CARGO_TARGET_DIR:-target}/release/atelier"
Xvfb ":$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
APP_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    kill "$XVFB_PID" 2>/dev/null || true
}
trap cleanup EXIT
sleep 1
DISPLAY=":$DISPLAY_NUM" LIBGL_ALWAYS_SOFTWARE=1 ATELIER_AUTOSTART=1 ATELIER_NO_PERSIST=1 \
    ATELIER_FRAME_LOG="$LOG" "$BIN" studio "$@" &
APP_PID=$!
sleep 5
end=$((SECONDS + DURATION))
x=200
while [ $SECONDS -lt $end ]; do
    DISPLAY=":$DISPLAY_NUM" xdotool mousemove "$x" 400 2>/dev/null || true
    x=$(( (x + 37) % 1200 + 40 ))
    sleep 0.03
done
python3 - "$LOG" <<'PY'
import sys
v = sorted(float(l) for l in open(sys.argv[1]) if l.strip())
if not v:
    sys.exit("no frames logged")
p = lambda q: v[min(len(v) - 1, int(q * (len(v) - 1)))] * 1000
print(f"frames {len(v)}  p50 {p(0.5):.1f} ms  p95 {p(0.95):.1f} ms  max {v[-1]*1000:.1f} ms")
PY
