"""Finding a FABER project: the folder named by ``--root`` or FABER_ROOT, else the nearest one above
the current folder that holds ``.fractary/plugins/faber/``.

Standard library only (no pathlib): ``Project.find`` uses it.
"""

from __future__ import annotations

import os

from faber_hookspecs.errors import ConfigError

FABER_DIR_NAME = os.path.join(".fractary", "plugins", "faber")

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from collections.abc import Mapping


def find_project_root(named: str | None, environ: Mapping[str, str]) -> str:
    """The project folder (absolute, symlinks resolved): ``named`` (``--root``), else FABER_ROOT,
    else the nearest folder holding the FABER folder, from the current folder upwards."""
    named = named or environ.get("FABER_ROOT")
    if named:
        path = os.path.realpath(os.path.expanduser(named))
        if not os.path.isdir(os.path.join(path, FABER_DIR_NAME)):
            raise ConfigError(f"{path} is not a FABER project (no {FABER_DIR_NAME}); run `faber init` there")
        return path
    start = folder = os.path.realpath(os.getcwd())
    while True:
        if os.path.isdir(os.path.join(folder, FABER_DIR_NAME)):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    raise ConfigError(
        f"no FABER project in {start} or above it (looked for {FABER_DIR_NAME}); "
        "run `faber init`, or pass --root / set FABER_ROOT"
    )
