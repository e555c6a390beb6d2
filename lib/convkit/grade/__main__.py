"""``python -m convkit.grade SUBMISSIONS --out grades.csv [--jobs N] [--timeout SECONDS]``."""

from __future__ import annotations

import sys

from convkit.grade.cli import main

if __name__ == "__main__":
    sys.exit(main())
