"""faber-host: run IDs, durable typed event logs, resume and re-run for FABER workflows.

The core is small: ``project`` finds a project, ``gateway`` loads its backends (pluggy plugins named
by entry points), ``api.Faber`` is what the CLI and the MCP server call. The record store, the
models and the hook specifications live in the faber-backend-local-files and faber-hookspecs
distributions.
"""
