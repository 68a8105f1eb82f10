"""faber-backend-helm: streams every stored event to the Helm service (entry point ``event_stream``).

``plugin.HelmStreamBackend`` is what the entry point names. A stub until the Helm service exists: the
contract it speaks is in the distribution's README.md.
"""
