#!/usr/bin/env bash
# Set up if needed (with test tools), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
export QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
