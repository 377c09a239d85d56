#!/usr/bin/env bash
# The whole test suite, set-up included: Python environment, Chromium for the Neo4j
# Browser test, the Neo4j + GDS jars, and a managed server of its own (under a separate
# MDESIGN_HOME, so your knowledge base is never touched). Idempotent; `.ci/run` calls it.
# Extra arguments go to one pytest run (e.g. `scripts/test.sh -k query`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$root/scripts/bootstrap.sh" | tail -n 1)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing Debian's chromium for the Neo4j Browser test" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi

export MDESIGN_HOME="${MDESIGN_TEST_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mdesign/test-home}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
unset NEO4J_URI NEO4J_USER NEO4J_PASSWORD
mkdir -p "$MDESIGN_HOME/tmp"
export TMPDIR="$MDESIGN_HOME/tmp"   # PyG writes per-process files into TMPDIR

# Two phases: the tests that need no server first (quick, while no Neo4j runs), then those
# against a real server (marked `server` by tests/conftest.py), started by the project's
# own command on a fresh store each run (faster than deleting a full knowledge base, and
# reproducible). With extra arguments, one pytest run with them (the server started first).
# Exit code 5 (no test selected) does not fail a phase.
pytest_phase() {
  local rc=0
  (cd "$root" && "$venv/bin/python" -m pytest "$@") || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then status=$rc; fi
}
"$venv/bin/mdesign" db stop >/dev/null
rm -rf "$MDESIGN_HOME/neo4j/data" "$MDESIGN_HOME/tasks"
status=0
(cd "$root" && "$venv/bin/ruff" check .) || status=$?
if [ "$#" -gt 0 ]; then
  "$venv/bin/mdesign" db start
  pytest_phase "$@"
else
  pytest_phase -m "not server"
  "$venv/bin/mdesign" db start
  pytest_phase -m server
fi
exit "$status"
