"""What every piece of user data goes through before it is stored, archived or streamed.

``InputPolicy`` (policy.py) screens an event draft or a run's metadata: the size limits of limits.py
first (so no later step works on a hostile size), then the secret redaction of redaction.py. The host
applies it in one place, the emit core ``faber_host.runlog``, before any hook sees the data, whatever
the door (API, CLI, MCP, migration, a restored archive), so the record store, the archive and the
event stream only ever receive screened data.

Standard library only. ``gateway/config.py`` validates the settings with its models, using the checks
defined here.
"""
