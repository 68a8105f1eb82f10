"""``faber mcp``: the MCP event gateway, for agents.

An MCP client (Claude Code, or any other) launches ``faber mcp`` and gets tools to start runs, emit
events, read state and history, and resources for a run's state, events and metadata. The server is
built on the official ``mcp`` SDK (``MCPServer``) and is thin: every tool and resource calls the
Python API (``faber_host.api.Faber``) that the CLI calls, so both give the same answers, the same
guarantees and the same error messages.

``server.py`` assembles the server; ``tools.py`` and ``resources.py`` hold what it serves,
``results.py`` the shapes of tool results, ``errors.py`` how errors become MCP error results,
``paging.py`` the cursors; ``server.py`` serves stdio and ``streamable_http.py`` HTTP, both with the
SDK's transports; ``listening.py`` says where HTTP may listen and who may call it.

Nothing here is imported by the other commands: the SDK takes most of a second to import.
"""
