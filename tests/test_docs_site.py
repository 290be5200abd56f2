"""The site's API reference (docs/reference.md, rendered by mkdocstrings) covers every module of
the package, so a new module cannot be left out of it. CI builds the site with --strict."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules() -> set[str]:
    names = set()
    for path in (ROOT / "tinygrad_rnn").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_reference_covers_every_module():
    listed = set(
        re.findall(r"^::: ([\w.]+)$", (ROOT / "docs" / "reference.md").read_text(encoding="utf-8"), re.M)
    )
    assert modules() - listed == set(), "add these modules to docs/reference.md"
    assert listed - modules() == set(), "docs/reference.md lists modules that no longer exist"


def test_every_page_is_in_the_site():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        assert f" {page.name}" in config, f"{page.name} is not in mkdocs.yml's nav"
