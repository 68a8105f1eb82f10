"""The pluggy markers of the project ``faber``.

Only ``hookimpl`` is public: backends mark their hook implementations with it. The spec marker is
private to this package, so nobody adds hooks to the contract by accident.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "faber"
ENTRY_POINT_GROUP = "faber.backends"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Mark a backend's hook implementation: ``@hookimpl def faber_emit_event(self, event, state): ...``."""

_hookspec = pluggy.HookspecMarker(PROJECT_NAME)
