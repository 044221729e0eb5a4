"""``python -m bench.report RESULTS.json REPORT.md``: render a report from a run's raw figures."""

import json
import sys
from pathlib import Path

from .document import render


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.report RESULTS.json REPORT.md", file=sys.stderr)
        return 2
    Path(argv[1]).write_text(render(json.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
