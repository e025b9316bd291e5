"""What the rounds feature tells other features without knowing them (blinker signals).

A feature that keeps something with a round's runs connects a receiver at import; the rounds
feature never imports it (`tests/unit/test_import_cycles.py` keeps it that way)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Sent by the allocation run job (`placements.rounds.jobs`) once a run's solve succeeded,
#: before its result is applied, inside the job's transaction:
#: ``run_solved.send(run, result=result)``. Rows a receiver adds are committed with the
#: run's success and dropped with its failure; a receiver that raises fails the run.
run_solved = _signals.signal("run-solved")
