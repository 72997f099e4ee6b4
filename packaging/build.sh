#!/usr/bin/env bash
# Build MaxSight's packages with one command:
#   packaging/build.sh            the wheel and sdist, the Linux bundle, and the .deb
#   packaging/build.sh --wheel    only the wheel and sdist
#   packaging/build.sh --bundle   the wheel, sdist and bundle, no .deb
# Results in dist/ ($MAXSIGHT_DIST_DIR):
#   maxsight-VERSION-py3-none-any.whl, maxsight-VERSION.tar.gz   pip install / pipx install
#   maxsight-VERSION-linux-x86_64/                                 the bundle: ./maxsight runs with no Python
#   maxsight_VERSION_amd64.deb                                     apt install ./maxsight_VERSION_amd64.deb
#   build-report.json                                              sizes and seconds per step
# Work files (a build virtual environment, PyInstaller's cache) live in build/packaging/
# ($MAXSIGHT_BUILD_DIR) and are reused by the next build; delete build/ to start clean.
#
# The bundle is PyInstaller one-folder: it installs offline from PyPI like the app's own packages,
# starts without unpacking (one-file would unpack ~700 MB to /tmp at every start), and dpkg can own
# every file. It is built from MaxSight's own wheel installed in the build environment, so it holds
# what the wheel holds; plus the models whose licences allow it (NanoDet, YAMNet, MobileNetV2: hash-
# checked from the user cache, `maxsight models fetch` first), espeak-ng with its voices, and
# PortAudio. The .deb puts the bundle under /opt/maxsight and declares the Debian packages the
# bundle loads from the system (packaging/deb_depends.py reads them from the bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-all}
case "$MODE" in all|--wheel|--bundle) ;; *) echo "usage: packaging/build.sh [--wheel|--bundle]" >&2; exit 2 ;; esac
PY=${PYTHON:-python3}
WORK=${MAXSIGHT_BUILD_DIR:-$ROOT/build/packaging}
OUT=${MAXSIGHT_DIST_DIR:-$ROOT/dist}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)
RAPIDOCR="rapidocr-onnxruntime==1.4.4"   # as scripts/setup.sh: without its opencv-python
BUNDLED_MODELS=(nanodet yamnet mobilenet_v2)   # CenterNet's upstream licence is unconfirmed: not bundled
mkdir -p "$WORK" "$OUT"
REPORT="$WORK/report.tsv"
: > "$REPORT"
step() { STEP_NAME=$1; STEP_T0=$(date +%s.%N); echo "== $1"; }
done_step() { printf '%s\t%s\n' "$STEP_NAME" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $STEP_T0}")" >> "$REPORT"; }
unset MAXSIGHT_BUNDLED_MODELS   # bundle from the user cache, never from another bundle

step "build environment"
VENV="$WORK/venv"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip "build>=1.2" "setuptools>=68" wheel >/dev/null
done_step

step "wheel and sdist"
rm -f "$OUT/maxsight-$VERSION"*.whl "$OUT/maxsight-$VERSION.tar.gz"
"$VENV/bin/python" -m build --no-isolation --outdir "$OUT" . >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
WHEEL="$OUT/maxsight-$VERSION-py3-none-any.whl"
SDIST="$OUT/maxsight-$VERSION.tar.gz"
for f in assets/labels/coco80.json assets/icons/maxsight.svg assets/icons/maxsight-16.png assets/samples/people_walking_indoor.mp4 \
         engine/models/registry.py; do
    "$VENV/bin/python" -c "import sys, zipfile; sys.exit('$f' not in zipfile.ZipFile('$WHEEL').namelist())" \
        || { echo "the wheel lacks $f" >&2; exit 1; }
done
done_step

report() {
    "$VENV/bin/python" - "$REPORT" "$OUT/build-report.json" "$@" <<'PYEOF'
import json, os, sys
from pathlib import Path
report, out, *paths = sys.argv[1:]
steps = {}
for line in Path(report).read_text().splitlines():
    name, secs = line.split("\t")
    steps[name] = float(secs)
def size(p):
    p = Path(p)
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink()) if p.is_dir() else p.stat().st_size
sizes = {Path(p).name: round(size(p) / 1e6, 1) for p in paths if Path(p).exists()}
data = {"seconds": steps, "total_seconds": round(sum(steps.values()), 1), "size_mb": sizes}
Path(out).write_text(json.dumps(data, indent=1))
for k, v in steps.items():
    print(f"  {k:<28} {v:7.1f} s")
for k, v in sizes.items():
    print(f"  {k:<45} {v:9.1f} MB")
print(f"  total {data['total_seconds']:.0f} s; report in {out}")
PYEOF
}
if [ "$MODE" = "--wheel" ]; then report "$WHEEL" "$SDIST"; exit 0; fi

step "install the wheel"
STAMP="$VENV/.maxsight-wheel"
WANT="$(sha256sum "$WHEEL" | cut -c1-16)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    "$VENV/bin/python" -m pip install -q "$WHEEL[app,packaging]"
    "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$WHEEL"
    "$VENV/bin/python" -m pip install -q --no-deps "$RAPIDOCR"
    echo "$WANT" > "$STAMP"
fi
done_step

step "models"
"$VENV/bin/maxsight" models fetch "${BUNDLED_MODELS[@]}" >/dev/null
rm -rf "$WORK/models"
"$VENV/bin/maxsight" models bundle "$WORK/models" "${BUNDLED_MODELS[@]}"
done_step

step "bundle (PyInstaller)"
BUNDLE="$OUT/maxsight-$VERSION-linux-x86_64"
(cd "$WORK" && MAXSIGHT_BUILD_DIR="$WORK" "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$WORK/dist" --workpath "$WORK/pyi" "$ROOT/packaging/maxsight.spec") >"$WORK/pyinstaller.log" 2>&1 \
    || { tail -40 "$WORK/pyinstaller.log"; exit 1; }
rm -rf "$BUNDLE"
mv "$WORK/dist/maxsight" "$BUNDLE"
# Smoke: it starts, and the doctor finds its models, Qt plugin and voices inside it.
env -u PYTHONPATH -u PYTHONHOME "$BUNDLE/maxsight" doctor --json > "$WORK/bundle-doctor.json" || true
"$VENV/bin/python" - "$WORK/bundle-doctor.json" <<'PYEOF'
import json, sys
checks = {c["name"]: c for c in json.load(open(sys.argv[1]))["checks"]}
bad = [f"{n}: {checks[n]['detail']}" for n in ("Python packages", "Qt platform plugin", "Speech voices", "Model nanodet",
                                               "Model yamnet", "Model mobilenet_v2", "ONNX Runtime") if checks[n]["status"] != "ok"]
if bad:
    sys.exit("the bundle's own doctor failed: " + "; ".join(bad))
print("  bundle doctor: models, Qt plugin, voices and ONNX Runtime found inside the bundle")
PYEOF
done_step
if [ "$MODE" = "--bundle" ]; then report "$WHEEL" "$SDIST" "$BUNDLE"; exit 0; fi

step "Debian package"
DEB="$OUT/maxsight_${VERSION}_amd64.deb"
STAGE="$WORK/deb"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" "$STAGE/usr/share/metainfo" \
    "$STAGE/usr/share/doc/maxsight" "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -al "$BUNDLE" "$STAGE/opt/maxsight"
ln -s /opt/maxsight/maxsight "$STAGE/usr/bin/maxsight"
cp packaging/io.github.maxsight.MaxSight.desktop "$STAGE/usr/share/applications/"
sed -e "s/@VERSION@/$VERSION/" -e "s/@DATE@/$(date -u +%Y-%m-%d)/" packaging/io.github.maxsight.MaxSight.metainfo.xml \
    > "$STAGE/usr/share/metainfo/io.github.maxsight.MaxSight.metainfo.xml"
cp assets/icons/maxsight.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/maxsight.svg"
for s in 16 32 48 128 256; do
    mkdir -p "$STAGE/usr/share/icons/hicolor/${s}x${s}/apps"
    cp "assets/icons/maxsight-$s.png" "$STAGE/usr/share/icons/hicolor/${s}x${s}/apps/maxsight.png"
done
{
    echo "MaxSight $VERSION: MIT licence (see README.md)."
    echo
    cat "$BUNDLE/_internal/models/LICENCES.txt"
    echo
    echo "Bundled native libraries: espeak-ng (GPL-3.0-or-later), PortAudio (MIT), Qt 6 via PySide6 (LGPL-3.0),"
    echo "ONNX Runtime (MIT), and the Python packages listed under /opt/maxsight/_internal/*.dist-info with their licences."
} > "$STAGE/usr/share/doc/maxsight/copyright"
DEPENDS=$("$VENV/bin/python" packaging/deb_depends.py "$BUNDLE" 2>"$WORK/deb-depends.log")
SIZE_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE_KB@/$SIZE_KB/" -e "s/@DEPENDS@/$DEPENDS/" packaging/debian/control.in \
    > "$STAGE/DEBIAN/control"
install -m 755 packaging/debian/postrm "$STAGE/DEBIAN/postrm"
rm -f "$OUT"/maxsight_*_amd64.deb
dpkg-deb --root-owner-group -Zzstd -z6 --build "$STAGE" "$DEB" >/dev/null
rm -rf "$STAGE"
echo "  Depends: $DEPENDS"
done_step

report "$WHEEL" "$SDIST" "$BUNDLE" "$DEB"
