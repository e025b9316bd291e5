"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""

import gc

from placements import create_app

app = create_app()
# Everything loaded so far (modules, the app, its reference data) lives as long as the
# process: move it out of the cyclic garbage collector's reach, so that its full sweeps walk
# only what requests allocate (at region scale an unfrozen sweep took ~90 ms and landed on
# every few requests: bench/RESULTS.md, "Page budget").
gc.freeze()
