#!/usr/bin/env bash
# Set up if needed, then run MaxSight. With no arguments: the desktop window (camera, or a file
# picker when there is none). On a machine without a display, it runs Stage A and the cues over the
# real sample clip shipped in assets/samples (people walking through a room; CC BY 4.0, see its
# ATTRIBUTION.md) instead, headless, writing results.jsonl and heard.wav (what a user would have heard).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ]; then
    VIDEO=assets/samples/people_walking_indoor.mp4
    echo "No display found: running headless over the sample video $VIDEO instead of opening the window."
    set -- run --source "$VIDEO" --headless --speak --audio-out heard.wav --out results.jsonl
fi
exec .venv/bin/maxsight "$@"
