#!/usr/bin/env bash
# Set up MaxSight on a fresh clone: Debian packages, a virtual environment with the Python
# packages, and the detector models in the user cache. Idempotent: a second run only checks.
#   scripts/setup.sh            the app's packages (engine, outputs, Qt window); no torch
#   scripts/setup.sh --training plus the training toolkit (torch, torchvision, TensorBoard, ONNX export)
#   scripts/setup.sh --dev      plus the training toolkit and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EXTRAS="[app]"
[ "${1:-}" = "--training" ] && EXTRAS="[app,training,export]"
[ "${1:-}" = "--dev" ] && EXTRAS="[app,training,export,dev]"
PY=${PYTHON:-python3}
VENV=${MAXSIGHT_VENV:-$ROOT/.venv}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "MaxSight needs Python 3.10 or newer as '$PY' (set PYTHON=/path/to/python3.11 to choose one)." >&2
    exit 1
fi

# Debian packages: install when root, otherwise say exactly what to install.
missing=()
while read -r pkg cmd; do
    case "$pkg" in ""|\#*) continue ;; esac
    if [ -n "${cmd:-}" ] && command -v "$cmd" >/dev/null; then continue; fi
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < <(cat packaging/debian-packages.txt; [ "$EXTRAS" = "[app,training,export,dev]" ] && cat packaging/debian-packages-dev.txt || true)
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "Please install these system packages first: ${missing[*]}" >&2
        exit 1
    elif [ "$(id -u)" = 0 ]; then
        echo "Installing Debian packages: ${missing[*]}"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
            echo "apt-get could not install ${missing[*]}; install them by hand and run this again." >&2
            exit 1
        fi
    else
        echo "Please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

# Python packages: reinstall only when pyproject.toml or the extras changed.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
STAMP="$VENV/.maxsight-installed"
RAPIDOCR="rapidocr-onnxruntime==1.4.4"   # see pyproject.toml: installed without its opencv-python
WANT="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)$EXTRAS"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    # pip stops half-way with "No space left on device" otherwise; the training toolkit's torch
    # (a CUDA build) alone is about 5.5 GB. An environment that was installed before only updates.
    NEED_MB=3000
    [ "$EXTRAS" != "[app]" ] && NEED_MB=9000
    [ -f "$STAMP" ] && NEED_MB=1000
    FREE_MB=$(df -Pm "$VENV" 2>/dev/null | awk 'NR==2 {print $4}') || FREE_MB=
    if [ -n "$FREE_MB" ] && [ "$FREE_MB" -lt "$NEED_MB" ]; then
        echo "Installing MaxSight's Python packages needs about $((NEED_MB / 1000)) GB free beside $VENV, and only $FREE_MB MB is free: free some disk space and run this again." >&2
        exit 1
    fi
    echo "Installing Python packages into $VENV ..."
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    # Older set-ups installed the PySide6 meta package (6.12, with Addons): it would shadow the pin.
    "$VENV/bin/python" -m pip uninstall -q -y PySide6 PySide6_Addons PySide6_Pdf PySide6_WebEngine >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q -e ".$EXTRAS"
    "$VENV/bin/python" -m pip install -q --no-deps "$RAPIDOCR"
    echo "$WANT" > "$STAMP"
fi

# Models: fetched once into the user cache, hash-checked, converted to ONNX.
"$VENV/bin/maxsight" models fetch
