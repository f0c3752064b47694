"""Text hygiene at the door: what the corpus stores is text a terminal, an XML feed and a browser
can all show as it is.

Sources deliver whatever the web holds: a ``\\x01`` in a title (which no XML 1.0 document may
contain, so every Atom feed with that document failed), ANSI escape sequences that recolour or
retitle a terminal when ``search`` prints them, a title of a megabyte. ``clean`` removes control
characters except tab and line breaks; titles become one line of at most ``MAX_TITLE_CHARS``;
texts are capped at ``[monitor] max_text_chars``. The store records what was cut.
"""

from __future__ import annotations

import re

MAX_TITLE_CHARS = 1000

# An ANSI escape sequence as a whole (CSI ... final byte, OSC ... BEL or ST, or ESC + one
# character), so no "[31m" is left behind; then every other C0 and C1 control character except
# tab, LF and CR, DEL, lone surrogates and the two non-characters XML 1.0 also forbids.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """``text`` without ANSI escape sequences and control characters (tab and newlines stay)."""
    if not _CONTROL.search(text):
        return text  # the common case, without copying
    return _CONTROL.sub("", _ANSI.sub("", text))


def clean_title(title: str) -> str:
    """A title as one line: cleaned, its white space (newlines included) collapsed."""
    return " ".join(clean(title).split())


def cap(text: str, limit: int) -> tuple[str, int | None]:
    """``text`` cut to ``limit`` characters, and its length before the cut (None if not cut)."""
    if len(text) <= limit:
        return text, None
    return text[:limit], len(text)
