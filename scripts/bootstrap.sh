#!/usr/bin/env bash
# Idempotent set-up: a virtual environment keyed on requirements*.txt (reused while the
# pins are unchanged, because torch alone is ~3 GB and pip's cache does not fill here),
# mdesign installed into it in editable mode, Debian's Chromium for the Browser test.
# Prints the venv path as its last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hash="$(cat "$root/requirements.txt" "$root/requirements-nodeps.txt" | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mdesign"
venv="${MDESIGN_VENV:-$cache/venv-$hash}"
mkdir -p "$cache"

if [ ! -f "$venv/.complete" ]; then
  echo "mdesign: building the Python environment in $venv (first run only, ~2-3 min)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip >&2
  "$venv/bin/pip" install --quiet -r "$root/requirements.txt" >&2
  "$venv/bin/pip" install --quiet --no-deps -r "$root/requirements-nodeps.txt" >&2
  touch "$venv/.complete"
fi
# Editable install of this checkout (cheap; re-pointed at whichever clone runs it).
if ! "$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e "$root" \
    >"$cache/install.log" 2>&1; then
  cat "$cache/install.log" >&2
  echo "mdesign: installing the package into $venv failed (log above)" >&2
  exit 1
fi
echo "$venv"
