"""Executing workflow runs: ``lifecycle`` (checks and records around a run) drives ``engine`` (the loop),
which asks ``progress`` (state + workflow → what is next) and records through the run log."""
