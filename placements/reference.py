"""Reference data bundled in seed/data: occupational standards and their routes (sectors)."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from wtforms.fields.choices import SelectChoice

STANDARDS_FILE = (Path(__file__).resolve().parent.parent / "seed" / "data"
                  / "occupational-standards-l4-l5.csv")


@cache
def standard_rows() -> tuple[dict[str, str], ...]:
    """Read the level 4/5 occupational standards from the bundled CSV."""
    with STANDARDS_FILE.open(newline="", encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


@cache
def routes() -> tuple[str, ...]:
    """Return the occupational routes (the placement sectors), sorted."""
    return tuple(sorted({row["route"] for row in standard_rows()}))


def sector_choices() -> list[SelectChoice]:
    """Return the choices for a sector select."""
    return [SelectChoice(r, r) for r in routes()]
