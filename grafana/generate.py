#!/usr/bin/env python3
"""Writes the Grafana dashboards of grafana/dashboards/ from the definitions
in boards.py (built with the helpers of builder.py), so panel ids, grid
positions, datasource references and the PromQL style stay consistent.

    python3 grafana/generate.py          # rewrite the JSON files
    python3 grafana/generate.py --check  # exit 1 if a file is out of date

The JSON files are what Grafana provisions and what the tests read; edit
boards.py and regenerate rather than editing the JSON by hand. Needs
grafana-foundation-sdk (pinned in tools/requirements.txt; tools/venv.sh
installs it into .venv):

    .venv/bin/python grafana/generate.py
"""

import sys
from pathlib import Path

# Run from a read-only checkout (CI) without leaving __pycache__ behind.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

from boards import DASHBOARDS  # noqa: E402
from builder import to_json  # noqa: E402

OUT = Path(__file__).resolve().parent / "dashboards"


def render(board):
    return to_json(board)


def main(argv):
    check = "--check" in argv[1:]
    stale = []
    for name, board in DASHBOARDS.items():
        path = OUT / f"{name}.json"
        text = render(board)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(
            f"grafana dashboards out of date: {', '.join(stale)}; run python3 grafana/generate.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
