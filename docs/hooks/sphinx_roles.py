"""mkdocs hook: show the package's Sphinx-style roles (``:class:`Roster```) as plain code.

The docstrings are written for ``help()`` and IDEs; mkdocstrings renders them as Markdown,
where a role would show as ``:class:Roster``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|exc|mod|data|obj):(?=<code>)")


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub("", html)
