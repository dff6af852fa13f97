#!/bin/sh
# Smoke test of an INSTALLED glmocr-studio (the .deb after `dpkg -i`, or an AppImage run as a file), in a system
# that has no Python of its own: a clean container or chroot of the oldest distribution the .deb claims, or a CI
# runner. INPUTS is a folder written by `python packaging/smoke.py --make-inputs INPUTS` on the build machine (a
# tiny random checkpoint, an image, the region to read).
#
#   installed-smoke.sh INPUTS [COMMAND]      COMMAND: /usr/bin/glmocr-studio (default) or path/to/GLM-OCR_Studio.AppImage
#
# Checks, in order: every library the installed bundle links resolves on this system (the .deb's Depends are
# enough; skipped for an AppImage); the command line answers without a display (`--version`, `info`); a region of
# the image is recognized with the tiny checkpoint (`ocr --region ... --json`); the window starts on an X display
# with Qt's xcb plugin and renders a formula with KaTeX in QtWebEngine (`--self-test`, under xvfb-run when there is
# no $DISPLAY). The Chromium sandbox is whatever the caller's environment says (on unless QTWEBENGINE_DISABLE_SANDBOX
# is set; the app switches it off for root itself).
set -eu
INPUTS=${1:?usage: installed-smoke.sh INPUTS [COMMAND]}
COMMAND=${2:-/usr/bin/glmocr-studio}
BUNDLE=${GLMOCR_STUDIO_BUNDLE:-/opt/glmocr-studio}
HOME_DIR=$(mktemp -d)
trap 'rm -rf "$HOME_DIR"' EXIT
export HOME="$HOME_DIR" XDG_CONFIG_HOME="$HOME_DIR/.config" XDG_DATA_HOME="$HOME_DIR/.local/share" \
       XDG_CACHE_HOME="$HOME_DIR/.cache" XDG_STATE_HOME="$HOME_DIR/.local/state"
fail() { echo "installed smoke: FAILED: $*" >&2; exit 1; }

if [ "${COMMAND##*.}" != "AppImage" ]; then
  # Every ELF file's libraries, with the bundle's own folders searched as its loader does.
  dirs=$(find "$BUNDLE" -name '*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
  missing=$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -exec sh -c \
    'for f; do head -c4 "$f" | grep -q ELF && LD_LIBRARY_PATH="$0" ldd "$f" 2>/dev/null | sed -n "s|^|$f: |; /not found/p"; done' \
    "$dirs" {} + | sort -u)
  [ -z "$missing" ] || fail "libraries not found on this system:
$missing"
  echo "installed smoke: every library of $BUNDLE resolves"
fi

env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$COMMAND" --version
env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$COMMAND" info --device cpu >/dev/null || fail "info"

region=$(cat "$INPUTS/region.txt")
result=$(env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$COMMAND" ocr "$INPUTS/page.png" \
  --model "$INPUTS/tiny-model" --device cpu --max-new-tokens 8 --json --region "$region" | tail -n 1)
box=$(echo "$region" | sed 's/\([0-9][0-9]*\)/\1.0/g; s/,/, /g')
echo "$result" | grep -q "\"region\": \[$box\]" || fail "ocr did not answer for region $region: $result"
echo "$result" | grep -q '"token_ids": \[[0-9]' || fail "ocr decoded no tokens: $result"
echo "installed smoke: region $region recognized"

report="$HOME_DIR/self-test.txt"
if [ -n "${DISPLAY:-}" ]; then
  GLMOCR_STUDIO_SELF_TEST_REPORT="$report" QT_QPA_PLATFORM=xcb timeout 300 "$COMMAND" --self-test || true
else
  GLMOCR_STUDIO_SELF_TEST_REPORT="$report" QT_QPA_PLATFORM=xcb timeout 300 \
    xvfb-run -a -s "-screen 0 1280x800x24" "$COMMAND" --self-test || true
fi
grep -q "self-test: passed" "$report" 2>/dev/null || fail "the window's self-test did not pass: $(cat "$report" 2>/dev/null)"
echo "installed smoke: passed"
