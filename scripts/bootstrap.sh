#!/usr/bin/env bash
# Creates the project's environment from nothing but python3 (>= 3.11) and pip:
#   .tools/  a private virtualenv holding the pinned uv
#   .venv/   the workspace environment, synced exactly to requirements.lock (hash-checked)
# Idempotent and fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
export UV_PYTHON_DOWNLOADS=never   # never fetch a toolchain: use the machine's python3

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'

if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv .tools
  .tools/bin/python -m pip install --quiet "uv==$UV_VERSION"
fi

stamp=.venv/.synced-$(sha256sum requirements.lock | cut -c1-16)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || .tools/bin/uv venv --quiet --python "$PYTHON" .venv
  # Hashes in the lockfile are verified by default; workspace members are editable installs.
  .tools/bin/uv pip sync --quiet --python .venv/bin/python requirements.lock
  rm -f .venv/.synced-*
  touch "$stamp"
fi

# The web page's one npm dependency (the calendar component's prebuilt bundle), exactly as
# web/package-lock.json pins it (integrity-checked by npm).
if command -v npm >/dev/null 2>&1; then
  web_stamp=web/node_modules/.synced-$(sha256sum web/package-lock.json | cut -c1-16)
  if [ ! -f "$web_stamp" ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    touch "$web_stamp"
  fi
else
  echo "npm not found: the web page at /app/ will have no calendar component" >&2
fi
