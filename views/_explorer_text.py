"""Text from users and lectures made safe for Streamlit's Markdown.

Streamlit renders labels, captions, alerts and table cells as Markdown, where a lecture's
"3136 = 7*7*64" loses its asterisks (7*7*64 turns into an italic 7) and a file named
"my_net_v2.json" its underscores. `escape_markdown` puts a backslash before every character
that would change the rendering, so the text reads exactly as written.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")
# ":name:" is an emoji or icon and ":red[...]" a colour to Streamlit.
_DIRECTIVE = re.compile(r":(?=[A-Za-z])")
_BULLET = re.compile(r"(?m)^(\s*)([-+])(?=\s)")
_NUMBERED = re.compile(r"(?m)^(\s*\d+)\.(?=\s)")


# Web addresses become links by themselves, and a backslash inside one would be shown.
_URL = re.compile(r"(https?://[^\s)]+)")


def escape_markdown(text: object) -> str:
    """`text` as Markdown that renders as the text itself; web addresses are left whole."""
    parts = _URL.split(str(text))
    return "".join(part if index % 2 else _escape(part) for index, part in enumerate(parts))


def _escape(text: str) -> str:
    escaped = _SPECIAL.sub(r"\\\1", text)
    escaped = _DIRECTIVE.sub(r"\\:", escaped)
    escaped = _BULLET.sub(r"\1\\\2", escaped)
    return _NUMBERED.sub(r"\1\\.", escaped)
