#!/usr/bin/env bash
# Build the Rasa NLU virtual environment (.venv-rasa) with Python 3.10.
#
# Usage: scripts/setup-rasa-venv.sh [--force] [--print-python]
#   --force         rebuild even when the stamp says it is up to date
#   --print-python  only print the Python 3.10 interpreter that would be used
#
# Environment: SKILLSPARK_RASA_VENV (default <repo>/.venv-rasa),
#              RASA_PYTHON (a Python 3.10 interpreter to use first).
#
# Exit codes: 0 ready, 3 no working Python 3.10 found (the bot then runs on
# rules only), 4 installing the requirements failed, 2 bad usage.
# Idempotent: a stamp holds the hash of nlu/requirements-rasa.txt and the
# interpreter version; when it matches, nothing is done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SKILLSPARK_RASA_VENV:-$ROOT/.venv-rasa}"
REQ="$ROOT/nlu/requirements-rasa.txt"
STAMP="$VENV/.stamp-requirements"
EXIT_NO_PYTHON=3
EXIT_INSTALL_FAILED=4

force=0
print_only=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-python) print_only=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[setup-rasa-venv] %s\n' "$*"; }

# True when "$1" runs and is CPython 3.10.
is_py310() {
  [ -n "${1:-}" ] && [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1
}

# Print the first working Python 3.10 interpreter, or nothing.
find_python() {
  local candidate root
  if [ -n "${RASA_PYTHON:-}" ] && is_py310 "$RASA_PYTHON"; then
    echo "$RASA_PYTHON"; return 0
  fi
  # python3.10 on PATH (may be a pyenv shim that fails when 3.10 is not active).
  if command -v python3.10 >/dev/null 2>&1 && is_py310 python3.10; then
    command -v python3.10; return 0
  fi
  # pyenv's own installs, newest 3.10 first.
  root=""
  if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root 2>/dev/null || true)"
  fi
  for base in "$root" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
    [ -n "$base" ] && [ -d "$base/versions" ] || continue
    while IFS= read -r candidate; do
      if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
    done < <(ls -d "$base"/versions/3.10*/bin/python3.10 2>/dev/null | sort -rV)
  done
  # uv-managed Pythons.
  if command -v uv >/dev/null 2>&1; then
    candidate="$(uv python find 3.10 2>/dev/null || true)"
    if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
  fi
  for candidate in /usr/bin/python3.10 /usr/local/bin/python3.10 /opt/python3.10/bin/python3.10; do
    if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

if ! PYTHON="$(find_python)"; then
  cat >&2 <<'MSG'
[setup-rasa-venv] No working Python 3.10 found. Rasa 3.6 needs Python 3.8-3.10.
Install one of these, then run this script again:
  pyenv install 3.10.13          (with pyenv)
  uv python install 3.10         (with uv)
  apt-get install python3.10 python3.10-venv   (Debian/Ubuntu with deadsnakes)
Or point RASA_PYTHON at a Python 3.10 interpreter.
The bot still runs without Rasa: it understands members with its built-in rules.
MSG
  exit "$EXIT_NO_PYTHON"
fi

if [ "$print_only" = 1 ]; then
  echo "$PYTHON"; exit 0
fi

PY_VERSION="$("$PYTHON" -c 'import platform; print(platform.python_version())')"
WANT_STAMP="$(sha256sum "$REQ" | cut -d' ' -f1) python-$PY_VERSION"

if [ "$force" = 0 ] && [ -f "$STAMP" ] && [ -x "$VENV/bin/rasa" ] \
   && [ "$(cat "$STAMP")" = "$WANT_STAMP" ]; then
  log "up to date: $VENV (python $PY_VERSION)"
  exit 0
fi

if [ -d "$VENV" ]; then
  if ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' \
       >/dev/null 2>&1; then
    log "removing $VENV: it does not hold a working Python 3.10"
    rm -rf "$VENV"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON ($PY_VERSION)"
  "$PYTHON" -m venv "$VENV"
fi

rm -f "$STAMP"
log "installing $(grep -c '^[a-zA-Z]' "$REQ") pinned requirements (a few minutes the first time)"
# This machine's pip config lists extra local indexes; hide their noise only.
set +o pipefail
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
status="${PIPESTATUS[0]}"
set -o pipefail
if [ "$status" != 0 ]; then
  log "pip install failed (exit $status); see the messages above" >&2
  exit "$EXIT_INSTALL_FAILED"
fi
if ! "$VENV/bin/python" -m pip check >/dev/null 2>&1; then
  log "warning: 'pip check' reports conflicts in $VENV" >&2
fi
INSTALLED="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("rasa"))')"
WANT="$(sed -n 's/^rasa==\([0-9.]*\).*/\1/p' "$REQ")"
if [ "$INSTALLED" != "$WANT" ]; then
  log "rasa $INSTALLED installed but $WANT is pinned" >&2
  exit "$EXIT_INSTALL_FAILED"
fi
echo "$WANT_STAMP" > "$STAMP"
log "ready: $VENV (rasa $INSTALLED, python $PY_VERSION)"
