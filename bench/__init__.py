"""Benchmarks of EditBench Studio; each module is a script, run from the repository root.

    .venv/bin/python -m bench.<name> --help

Running them as modules puts the repository root on ``sys.path``, so they import
``analysis``, ``inference`` and ``annotation`` without editing it. Results: ``RESULTS.md``.
"""
