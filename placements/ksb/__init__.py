"""KSBs: occupational standards' knowledge, skills and behaviours, from programme design to
placement evidence (the suggestion engine, the catalogue, programme mapping, offers'
KSBs, learners' evidence)."""

# `cli` adds `flask ksb ...` to the blueprint; `imports` registers the KSB import kinds.
from placements.ksb import cli, imports  # noqa: F401
from placements.ksb.views import bp

__all__ = ["bp"]
