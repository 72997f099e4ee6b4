#!/usr/bin/env bash
# Set up if needed, then run MaxSight. With no arguments: Stage A over a real walking video from
# the evaluation data (or camera 0 when the data is absent), headless, writing results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ]; then
    DATA=${MAXSIGHT_EVAL_DATA:-../shared/data}
    VIDEO="$DATA/videos_walking_driving/opencv_vtest.avi"
    if [ -f "$VIDEO" ]; then set -- run --source "$VIDEO" --headless --out results.jsonl
    else set -- run --source 0 --headless --out results.jsonl; fi
fi
exec .venv/bin/maxsight "$@"
