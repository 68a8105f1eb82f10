"""Benchmarks of faber-host against the disk's limit and the FABER reference: ``make bench``.

Plain scripts, not timed tests: each figure is a ratio of two things measured side by side, in the
same run on the same machine (alternating rounds, medians), printed with its target. See
docs/performance.md for the latest table and how to read it.
"""
