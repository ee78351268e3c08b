#!/usr/bin/env bash
# Browser tests of the side panel, from a fresh clone: a Chromium (below), the ui-tests' node
# packages, then a local ModelArts emulator and a JupyterLab using it (servers.py), the Galata
# tests, and everything stopped again.
#
#   labextension/ui-tests/run.sh            # the tests (make ui-test)
#   labextension/ui-tests/run.sh bench      # the timing rows (make ui-bench)
#   labextension/ui-tests/run.sh test -g reload   # extra arguments go to playwright
#
# Which Chromium: $MAI_CHROMIUM if set (any Chromium or Chrome binary); else Debian's
# /usr/bin/chromium, installed with apt-get if missing (as root, or through sudo; it needs the
# package mirror); only where there is no apt-get, Playwright's own Chromium (downloaded once).
# Debian's fonts-noto-cjk too, when no Chinese font is installed (the zh_CN tests).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PY")"
export PATH="$BIN:$PATH"   # jlpm and jupyter from the project's environment
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
DEBIAN_CHROMIUM=/usr/bin/chromium

mode="${1:-test}"
[ $# -gt 0 ] && shift
case "$mode" in
  test) project=ui ;;
  bench) project=bench ;;
  *) echo "usage: $0 [test|bench] [playwright args...]" >&2; exit 2 ;;
esac

# Installs one Debian package (as root, or through sudo; it needs the package mirror).
apt_install() {
  echo "== installing Debian's $1 (apt-get: needs root or sudo, and the package mirror)"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

playwright_chromium=0
if [ -n "${MAI_CHROMIUM:-}" ]; then
  if [ ! -x "$MAI_CHROMIUM" ]; then
    echo "MAI_CHROMIUM=$MAI_CHROMIUM is not an executable Chromium" >&2
    exit 2
  fi
elif [ -x "$DEBIAN_CHROMIUM" ]; then
  export MAI_CHROMIUM="$DEBIAN_CHROMIUM"
elif command -v apt-get >/dev/null 2>&1; then
  apt_install chromium
  export MAI_CHROMIUM="$DEBIAN_CHROMIUM"
else
  playwright_chromium=1
  export MAI_CHROMIUM=""   # empty: playwright.config.ts lets Playwright use its own Chromium
fi

# A Chinese font, as every Chinese user's machine has: without one, Chromium draws the zh_CN
# tests' selects, placeholders and tabs as empty boxes, and their widths are not a user's.
if ! fc-list :lang=zh 2>/dev/null | grep -q . && command -v apt-get >/dev/null 2>&1; then
  apt_install fonts-noto-cjk
fi

if ! "$PY" -c "import mai_widgets, jupyterlab" 2>/dev/null; then
  echo "mai_widgets is not installed in $PY: run 'make install' first" >&2
  exit 2
fi
extensions="$("$BIN/jupyter" labextension list 2>&1 || true)"
if ! grep -q "mai-widgets.*enabled.*OK" <<<"$extensions"; then
  echo "the mai-widgets labextension is not installed in $PY's environment:" >&2
  echo "$extensions" >&2
  exit 2
fi

echo "== ui-tests node packages"
cd "$HERE"
mkdir -p artifacts
jlpm install --mode=skip-build >artifacts/jlpm-install.log 2>&1 || { cat artifacts/jlpm-install.log >&2; exit 1; }

if [ "$playwright_chromium" = 1 ]; then
  echo "== no apt-get here: installing Playwright's own Chromium"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD= jlpm playwright install chromium
fi

if [ "$project" = bench ]; then
  # The kernel imports mai_widgets at every cold open: from bytecode, as an installed package does.
  "$PY" -m compileall -q "$ROOT/mai_widgets" >/dev/null
fi

echo "== Galata ($project)"
exec "$PY" servers.py --log artifacts/jupyterlab.log -- jlpm playwright test --project="$project" "$@"
