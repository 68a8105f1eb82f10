"""A pytest plugin for the test runs of ``make mutants`` (bench/mutants.py loads it with -p mutants_plugin): they trace
every call on a loaded machine, so hypothesis gets no health checks or deadlines, and the same examples
every run, so a mutant's verdict does not depend on the draw."""

from hypothesis import HealthCheck, settings

settings.register_profile("mutants", deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
settings.load_profile("mutants")
