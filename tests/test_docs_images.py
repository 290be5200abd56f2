"""docs/images is made by one command from the current code, and every picture in it is shown
by a page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "docs" / "tour.ipynb"]


def referenced() -> set[str]:
    names = set()
    for page in PAGES:
        names |= set(re.findall(r"images/([\w.-]+\.(?:png|gif|html))", page.read_text(encoding="utf-8")))
    return names


def pictures() -> set[str]:
    return {p.name for p in IMAGES.iterdir() if p.suffix in (".png", ".gif", ".html")}


def test_every_picture_is_shown_by_a_page():
    pictures_ = pictures()
    assert pictures_, "docs/images has no pictures"
    assert pictures_ - referenced() == set(), "pictures no page shows"


def test_every_picture_a_page_shows_exists():
    assert referenced() - pictures() == set()


@pytest.mark.slow
def test_committed_sources_are_what_the_code_produces_now():
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "make_images.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr


def test_check_notices_a_changed_source(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import make_images
    finally:
        sys.path.remove(str(ROOT / "docs"))
    monkeypatch.setattr(make_images, "IMAGES", tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.json").write_text(make_images.as_json([1.0]), encoding="utf-8")
    (tmp_path / "stray.png").write_bytes(b"")
    problems = make_images.check([make_images.Picture("a.png", make_images.as_json([1.01]), "a.json", None)])
    assert "docs/images/a.json differs from what the code produces now" in problems
    assert any("stray.png is made by nothing" in p for p in problems)
    same = make_images.Picture("a.png", make_images.as_json([1.0]), "a.json", None)
    assert make_images.check([same]) == ["docs/images/stray.png is made by nothing"]
