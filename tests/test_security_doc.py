"""SECURITY.md names a test for each claim: every test it names exists, so the page cannot
point at a test that was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `tests/<layer>/test_x.py::test_name`, then maybe ` / `test_other`` names in the same file.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`((?:\s*/\s*`test_\w+`)*)")


def references() -> list[tuple[str, str | None]]:
    text = (ROOT / "SECURITY.md").read_text()
    found: list[tuple[str, str | None]] = []
    for match in REFERENCE.finditer(text):
        path, name, more = match.groups()
        found.append((path, name))
        found += [(path, other) for other in re.findall(r"`(test_\w+)`", more)]
    return found


def test_every_test_security_md_names_exists() -> None:
    named = references()
    assert len(named) > 100  # the page was read, not skipped
    missing = []
    for path, name in named:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name is not None and not re.search(
            rf"^(async )?def {name}\(", source.read_text(), re.M
        ):
            missing.append(f"{path}::{name}")
    assert missing == []
