"""faber-backend-helm: streams every stored event to the Helm service (entry point ``event_stream``,
``plugin.HelmStreamBackend``). A stub until the service exists: the contract is in README.md."""
