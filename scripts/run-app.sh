#!/usr/bin/env bash
# Set up if needed, then run MaxSight. With no arguments: the desktop window (camera, or a file
# picker when there is none). On a machine without a display, it runs Stage A and the cues over a
# real walking video from the evaluation data instead, headless, writing results.jsonl and
# heard.wav (what a user would have heard).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ]; then
    echo "No display found: running headless over a sample video instead of opening the window."
    DATA=${MAXSIGHT_EVAL_DATA:-../shared/data}
    VIDEO="$DATA/videos_walking_driving/opencv_vtest.avi"
    [ -f "$VIDEO" ] || VIDEO=0
    set -- run --source "$VIDEO" --headless --speak --audio-out heard.wav --out results.jsonl
fi
exec .venv/bin/maxsight "$@"
