"""Make `import solver` find the package, not this test directory, under any pytest runner."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    # `python -m pytest` puts the repository first already; the bare `pytest` script does not.
    sys.path.insert(0, ROOT)
