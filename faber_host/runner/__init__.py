"""Executing workflow runs: ``faber run``, resume, re-run and approvals.

``lifecycle`` (checks, records, hooks around a run) calls ``engine.WorkflowRunner`` (the loop);
``progress`` is the pure function from a run's state and its workflow to what is done and what is
next; ``shell`` is the built-in step executor; ``cancel`` turns Ctrl-C and SIGTERM into a recorded
cancellation; ``lock`` keeps a run to one executing process; ``display`` shows progress.
"""
