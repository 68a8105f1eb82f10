"""Fill ``{work_id}``, ``{run_id}`` and ``{param}`` placeholders in a workflow's steps.

In ``command``, ``prompt`` and ``arguments`` (text for an agent) the value is written in. In ``run`` (a
shell command) it never is: the placeholder becomes a reference to the environment variable holding it
(FABER_PARAM_<NAME>...), quoted as the context needs, so no value can become shell syntax. Where a
variable cannot stand for it (single quotes, a quoted here-document, ``$((...))``, ``${...}``, after a
backslash, a here-document delimiter) the placeholder is refused. ``{{name}}`` is a literal ``{name}``."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from faber_hookspecs.errors import ConfigError, InvalidInput
from faber_hookspecs.workflow import ResolvedStep, ResolvedWorkflow

PLACEHOLDER_RE = re.compile(
    r"\{\{(?P<escaped>[A-Za-z_][A-Za-z0-9_]*)\}\}|(?<!\$)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}"
)
FILLED_FIELDS = ("command", "prompt")
RUN_VARIABLES = {"run_id": "FABER_RUN_ID", "work_id": "FABER_WORK_ID"}

# How a placeholder is written in each quoting context the shell expands variables in: quoted where
# the word would otherwise be split and globbed, bare where double quotes would be literal or close
# the quotes around it.
_REFERENCE = {"word": '"${%s}"', "double": "${%s}", "heredoc": "${%s}"}
_REFUSED = {
    "single": "inside single quotes, where the shell expands nothing: move it out of the quotes, or let "
              "the quoted program read ${variable} itself",
    "quoted-heredoc": "inside a quoted here-document (<<'EOF'), where the shell expands nothing: let the "
                      "here-document's program read ${variable}, or unquote the delimiter",
    "arithmetic": "inside $((...)), where the shell would evaluate the value as an expression: pass it to "
                  "a command that checks it (test, expr) instead",
    "parameter": "inside ${...}: move it out, for example X={placeholder}; then ${X:-...}",
    "escaped": "right after a backslash, which would keep the shell from expanding it: remove the backslash",
    "delimiter": "in a here-document's delimiter: use a fixed word",
}


def environment_variable(name: str) -> str:
    """The environment variable a step reads placeholder ``name``'s value from."""
    return RUN_VARIABLES.get(name) or f"FABER_PARAM_{name.upper()}"


def placeholder_values(work_id: str | None, run_id: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The values placeholders take in a run: its parameters, its work id and its run id."""
    values = {name: str(value) for name, value in params.items()}
    values["run_id"] = run_id
    if work_id is not None:
        values["work_id"] = work_id
    return values


def check_placeholders(workflow: ResolvedWorkflow, names: Collection[str]) -> None:
    """Refuse a workflow whose shell commands use a placeholder that has no value, or one where an
    environment variable cannot stand for it; the error names the file and the JSON path."""
    for step in workflow.steps():
        if step.run is not None:
            shell_command(step.run, names, f"{step.file}: {step.json_path}.run")


def fill_placeholders(workflow: ResolvedWorkflow, values: Mapping[str, str]) -> ResolvedWorkflow:
    """The workflow with every placeholder that has a value filled in (in ``run``: referenced)."""
    check_placeholders(workflow, values.keys())
    phases = [
        phase.model_copy(update={"steps": [fill_step(step, values) for step in phase.steps]})
        for phase in workflow.phases
    ]
    return workflow.model_copy(update={"phases": phases})


def fill_step(step: ResolvedStep, values: Mapping[str, str]) -> ResolvedStep:
    """One step with its placeholders filled."""
    update: dict[str, Any] = {field: fill_text(getattr(step, field), values)
                              for field in FILLED_FIELDS if getattr(step, field) is not None}
    if step.run is not None:
        update["run"] = shell_command(step.run, values.keys(), f"{step.file}: {step.json_path}.run")
    update["arguments"] = _fill_value(step.arguments, values)
    return step.model_copy(update=update)


def fill_text(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its placeholders replaced by their values; unknown ones are left as written."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"] is not None:
            return "{" + match["escaped"] + "}"
        value = values.get(match["name"])
        return match[0] if value is None else value

    return PLACEHOLDER_RE.sub(replace, text)


def _fill_value(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return fill_text(value, values)
    if isinstance(value, list):
        return [_fill_value(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill_value(item, values) for key, item in value.items()}
    return value


def shell_command(run: str, names: Collection[str], where: str) -> str:
    """``run`` with each placeholder replaced by a reference to its environment variable: InvalidInput for
    a placeholder ``names`` lacks, ConfigError for one where a variable cannot stand for it."""
    try:
        contexts = _Lexer(run).contexts()
    except RecursionError:  # the lexer descends once per nested $( ), ` `, " ", ${ }
        raise ConfigError(f"{where}: the command nests quotes and substitutions too deeply") from None

    def replace(match: re.Match[str]) -> str:
        if match["escaped"] is not None:
            return "{" + match["escaped"] + "}"
        name = match["name"]
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise InvalidInput(f"{where}: uses {{{name}}}, which this run does not define; "
                               f"pass --param {name}=VALUE (defined: {known})")
        context = contexts.get(match.start(), "word")
        if context in _REFUSED:
            why = _REFUSED[context].replace("{variable}", "{" + environment_variable(name) + "}")
            raise ConfigError(f"{where}: {{{name}}} is {why.replace('{placeholder}', match[0])}")
        return _REFERENCE[context] % environment_variable(name)

    return PLACEHOLDER_RE.sub(replace, run)


class _Lexer:
    """The quoting context of each placeholder of a shell command, as far as the POSIX shell grammar tells.
    A misjudged context cannot let a value in (the shell never parses a variable's value): at worst it
    arrives split, or unexpanded."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.placeholders = {match.start(): match for match in PLACEHOLDER_RE.finditer(text)}
        self.found: dict[int, str] = {}
        self.heredocs: list[tuple[str, bool, bool]] = []  # delimiter, quoted, strip tabs: bodies to come

    def contexts(self) -> dict[int, str]:
        self.scan(0, len(self.text), "word", ())
        return self.found

    def scan(self, i: int, end: int, kind: str, outer: tuple[str, ...]) -> int:
        """Read ``text[i:end]`` in context ``kind`` until that context closes; the offset after it."""
        text, begin, depth, cases = self.text, i, 0, 0
        inside = (*outer, kind)
        while i < end:
            match = self.placeholders.get(i)
            if match is not None:
                if match["name"] is not None:
                    self.found[i] = (
                        "arithmetic" if "arithmetic" in outer else "word" if kind in ("subshell", "backtick") else kind
                    )
                i = match.end()
                continue
            char = text[i]
            if char == "\\":
                self.mark(i + 1, i + 2, "escaped")
                i += 2
            elif char == "$" and text.startswith("$((", i):
                i = self.scan(i + 3, end, "arithmetic", inside)
            elif char == "$" and text.startswith("$(", i):
                i = self.scan(i + 2, end, "subshell", inside)
            elif char == "$" and text.startswith("${", i):
                i = self.scan(i + 2, end, "parameter", inside)
            elif char == "`":
                if kind == "backtick":
                    return i + 1
                i = self.scan(i + 1, end, "backtick", inside)
            elif kind == "double" and char == '"':
                return i + 1
            elif kind in ("double", "heredoc"):
                i += 1
            elif char == "'":
                close = text.find("'", i + 1, end)
                close = end if close < 0 else close
                self.mark(i + 1, close, "single")
                i = close + 1
            elif char == '"':
                i = self.scan(i + 1, end, "double", inside)
            elif char == "}" and kind == "parameter":
                return i + 1
            elif self.keyword(i, begin, "case"):
                cases += 1
                i += 4
            elif cases and self.keyword(i, begin, "esac"):
                cases -= 1
                i += 4
            elif char == "(":
                depth += 1
                i += 1
            elif char == ")" and depth:
                depth -= 1
                i += 1
            elif char == ")" and cases:  # the end of a case pattern, not of the $( ) around it
                i += 1
            elif char == ")" and kind == "subshell":
                return i + 1
            elif char == ")" and kind == "arithmetic" and text.startswith("))", i):
                return i + 2
            elif char == "#" and (i == begin or text[i - 1] in " \t\n;&|()`"):
                comment_end = text.find("\n", i, end)
                i = end if comment_end < 0 else comment_end
            elif text.startswith("<<", i) and not text.startswith("<<<", i):
                i = self.heredoc_operator(i + 2, end)
            elif char == "\n" and self.heredocs:
                i = self.heredoc_bodies(i + 1, end, inside)
            else:
                i += 1
        return end

    def keyword(self, i: int, begin: int, word: str) -> bool:
        """Whether ``word`` (a reserved word) starts at ``i`` in a command's first position."""
        after = self.text[i + len(word):i + len(word) + 1]
        if not self.text.startswith(word, i) or after not in ("", " ", "\t", "\n", ";", "&", "|", ")", "`"):
            return False
        before = self.text[begin:i].rstrip(" \t")
        return not before or before.endswith((";", "&", "|", "(", "\n", "`", "{", "!", "then", "do", "else"))

    def mark(self, start: int, end: int, kind: str) -> None:
        for offset, match in self.placeholders.items():
            if start <= offset < end and match["name"] is not None:
                self.found[offset] = kind

    def heredoc_operator(self, i: int, end: int) -> int:
        """Read ``<<[-] WORD`` from after the ``<<``; its body starts at the next line."""
        text = self.text
        strip = text.startswith("-", i)
        i += strip
        while i < end and text[i] in " \t":
            i += 1
        start, quoted, word = i, False, []
        while i < end and text[i] not in " \t\n;&|<>()":
            if text[i] in "'\"":
                close = text.find(text[i], i + 1, end)
                close = end if close < 0 else close
                word.append(text[i + 1:close])
                quoted, i = True, close + 1
            elif text[i] == "\\":
                word.append(text[i + 1:i + 2])
                quoted, i = True, i + 2
            else:
                word.append(text[i])
                i += 1
        self.mark(start, i, "delimiter")
        self.heredocs.append(("".join(word), quoted, strip))
        return i

    def heredoc_bodies(self, i: int, end: int, outer: tuple[str, ...]) -> int:
        """Read the bodies of the here-documents opened on the line that just ended."""
        text = self.text
        pending, self.heredocs = self.heredocs, []
        for delimiter, quoted, strip in pending:
            start = line = i
            while line < end:
                line_end = text.find("\n", line, end)
                line_end = end if line_end < 0 else line_end
                if (text[line:line_end].lstrip("\t") if strip else text[line:line_end]) == delimiter:
                    break
                line = line_end + 1
            if quoted:
                self.mark(start, line, "quoted-heredoc")
            else:
                self.scan(start, min(line, end), "heredoc", outer)
            newline = text.find("\n", line, end)
            i = end if newline < 0 else newline + 1
        return i
