"""The exceptions the compiled event validator raises (see ``schema_gen.compiled_validator_source``).

They mirror fastjsonschema's classes of the same names, so the generated code runs without importing
the fastjsonschema package on the CLI's emit path.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from typing import Any


class JsonSchemaValueException(ValueError):
    """One schema violation: ``name`` is the dotted path (``data.error.code``), ``rule`` the keyword."""

    def __init__(
        self, message: str, value: Any = None, name: str | None = None, definition: Any = None, rule: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.value = value
        self.name = name
        self.definition = definition
        self.rule = rule


class JsonSchemaValuesException(ValueError):
    """Several violations at once (only raised when the validator was compiled without fast-fail)."""

    def __init__(self, errors: list[JsonSchemaValueException]) -> None:
        self.message = "; ".join(error.message for error in errors)
        super().__init__(self.message)
        self.errors = errors
