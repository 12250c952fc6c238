"""The detection benchmark of issue 5: `python -m bench.detection` (see `run.py`)."""
