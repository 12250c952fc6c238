"""`python -m bench.detection`."""

from bench.detection.run import main

main()
