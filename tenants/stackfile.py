"""Reading and rewriting the `nexus-platform:fluxion` block of a stack file, and nothing else.

The block is located by its key line and replaced as text, so every other line of the file (other
systems' sections, comments, formatting) is preserved exactly. Secure values (`{secure: v1:...}`, written
by `pulumi config set --secret`) are ordinary mappings to YAML and survive the rewrite unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from platform_config import PROJECT

KEY = f"{PROJECT}:fluxion"
_KEY_LINE = re.compile(rf"^(?P<indent>[ ]*){re.escape(KEY)}:(?P<rest>.*)$", re.MULTILINE)


class StackFileError(ValueError):
    """The stack file cannot be edited safely."""


class _IndentedDumper(yaml.SafeDumper):
    """Indents sequences under their key (`tenants:\\n  - id: ...`), the style the stack files use."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def parse_section(text: str) -> dict[str, Any]:
    """The raw `nexus-platform:fluxion` mapping of a stack file's text (empty when unset)."""
    document = yaml.safe_load(text) or {}
    section = (document.get("config") or {}).get(KEY) or {}
    if not isinstance(section, dict):
        raise StackFileError(f"{KEY} must be a mapping, found {type(section).__name__}")
    return section


def dump_section(section: dict[str, Any], indent: str) -> str:
    if not section:
        return f"{indent}{KEY}: {{}}\n"
    body = yaml.dump(section, Dumper=_IndentedDumper, sort_keys=False, default_flow_style=False, indent=2, width=120)
    nested = "".join(f"{indent}  {line}\n" if line else "\n" for line in body.splitlines())
    return f"{indent}{KEY}:\n{nested}"


def replace_section(text: str, section: dict[str, Any]) -> str:
    """`text` with the fluxion block replaced by `section`; unchanged when the section is already equal."""
    if parse_section(text) == section:
        return text
    matches = list(_KEY_LINE.finditer(text))
    if len(matches) != 1:
        raise StackFileError(f"expected exactly one '{KEY}:' line in the stack file, found {len(matches)}")
    match = matches[0]
    indent = match["indent"]
    lines = text[match.end() :].split("\n")
    # The block runs until the first non-blank line indented no deeper than the key (blank lines that
    # end the block belong to what follows).
    consumed, pending_blank = 0, 0
    for line in lines[1:]:
        if not line.strip():
            pending_blank += 1
            continue
        if len(line) - len(line.lstrip(" ")) <= len(indent):
            break
        consumed += pending_blank + 1
        pending_blank = 0
    block_end = match.end() + len("\n".join(lines[: consumed + 1]))
    rest = text[block_end:]
    replaced = text[: match.start()] + dump_section(section, indent).rstrip("\n") + rest
    if parse_section(replaced) != section:
        raise StackFileError(f"rewriting {KEY} did not round-trip; the stack file was left untouched")
    return replaced


def read_section(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StackFileError(f"stack file {path} not found")
    return parse_section(path.read_text())


def write_section(path: Path, section: dict[str, Any]) -> bool:
    """Rewrite the block; True when the file changed."""
    text = path.read_text()
    replaced = replace_section(text, section)
    if replaced == text:
        return False
    path.write_text(replaced)
    return True
