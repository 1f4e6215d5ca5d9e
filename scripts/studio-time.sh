#!/usr/bin/env bash
# Times a default run in the studio, as an artist gets it: the studio under Xvfb with the bundled
# samples, Start pressed as soon as it can be (ATELIER_AUTOSTART), until the run is done. Prints
# Start → done in seconds and how far the ETA shown after each iteration was from the real end
# (worst relative error from iteration 10 on), from the studio's own event log (ATELIER_RUN_LOG).
# Needs: apt-get install -y xvfb libgl1-mesa-dri libegl1. Arguments go to `atelier studio`
# (e.g. --weights PATH). TIMEOUT (default 600) bounds the wait.
set -euo pipefail
cd "$(dirname "$0")/.."
DISPLAY_NUM="${DISPLAY_NUM:-97}"
LOG="${LOG:-/tmp/atelier-run-log.txt}"
TIMEOUT="${TIMEOUT:-600}"
cargo build --release --quiet --bin atelier
BIN="${CARGO_TARGET_DIR:-target}/release/atelier"
Xvfb ":$DISPLAY_NUM" -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
APP_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    kill "$XVFB_PID" 2>/dev/null || true
}
trap cleanup EXIT
sleep 1
: >"$LOG"
DISPLAY=":$DISPLAY_NUM" LIBGL_ALWAYS_SOFTWARE=1 ATELIER_AUTOSTART=1 ATELIER_NO_PERSIST=1 \
    ATELIER_RUN_LOG="$LOG" "$BIN" studio "$@" >/dev/null 2>&1 &
APP_PID=$!
end=$((SECONDS + TIMEOUT))
until grep -q "finished" "$LOG" 2>/dev/null; do
    if [ $SECONDS -ge $end ] || ! kill -0 "$APP_PID" 2>/dev/null; then
        echo "no finished run after ${TIMEOUT} s (log: $LOG)" >&2
        exit 1
    fi
    sleep 1
done
python3 - "$LOG" <<'PY'
import sys
start = done = None
eta = []
for line in open(sys.argv[1]):
    t, kind, *rest = line.split()
    t = float(t)
    if kind == "start" and start is None:
        start = t
    elif kind == "progress":
        eta.append((int(rest[0]), t, float(rest[2])))
    elif kind == "finished":
        done, how, iters = t, rest[0], rest[1]
        break
print(f"Start -> done: {done - start:.1f} s ({how} after {iters} iterations)")
errs = [(i, (t + left - done) / (done - t)) for i, t, left in eta if i >= 10 and done - t > 1]
if errs:
    i, worst = max(errs, key=lambda e: abs(e[1]))
    print(f"ETA from iteration 10 on: worst {100 * worst:+.0f} % (at iteration {i}), "
          f"median {100 * sorted(abs(e) for _, e in errs)[len(errs) // 2]:.0f} %")
PY
