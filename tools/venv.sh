#!/usr/bin/env bash
# Creates or updates the Python virtualenv `.venv` at the repository root with
# the packages pinned in tools/requirements.txt. Packages are (re)installed only
# when the requirements file or the interpreter changed, so a run on an
# up-to-date venv takes well under a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/tools/requirements.txt"
stamp="$venv/.requirements.stamp"

if ! command -v python3 >/dev/null 2>&1; then
    echo "tools/venv.sh: python3 not found; install Python 3 (e.g. apt-get install python3 python3-venv)" >&2
    exit 1
fi

# The stamp names the interpreter as well as the requirements, so a venv left
# behind by another Python version is rebuilt rather than half-used.
want="$(python3 -c 'import sys; print(sys.version)' | tr -d '\n') $(sha256sum "$requirements" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        echo "tools/venv.sh: 'python3 -m venv' failed; install the venv module (e.g. apt-get install python3-venv)" >&2
        exit 1
    fi
fi

echo "tools/venv.sh: installing tools/requirements.txt into .venv"
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" >"$stamp"
