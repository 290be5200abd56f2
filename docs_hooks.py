"""mkdocs hook: the pages link to source files of the repository (``../tinygrad_rnn/engine.py``,
``../examples/manual_bptt.py``), which are right on GitHub and in an editor but not part of the
site. In the site such a link becomes its text, so that ``mkdocs build --strict`` can fail on
every link that is really broken."""

from __future__ import annotations

import re
from typing import Any

OUTSIDE = re.compile(r"\[([^\]]+)\]\(\.\./(?:tinygrad_rnn|examples|benchmarks|tests)/[^)\s]*\)")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return OUTSIDE.sub(lambda match: match.group(1), markdown)
