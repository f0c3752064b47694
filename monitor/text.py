"""Text hygiene: what the corpus stores, and what is shown from it, is text a terminal, an XML
feed and a browser can all show as it is.

Sources deliver whatever the web holds: a ``\\x01`` in a title (which no XML 1.0 document may
contain, so every Atom feed with that document failed), ANSI escape sequences that recolour or
retitle a terminal when ``search`` prints them, a title of a megabyte. At the door (the store)
``clean`` removes control characters except tab and line breaks; titles become one line of at
most ``MAX_TITLE_CHARS``; texts are capped at ``[monitor] max_text_chars``, and the store
records what was cut.

``xml_safe`` is for XML output (the Atom feeds): XML 1.0 allows tab, line feed, carriage return
and every other character from U+0020 except the surrogates, U+FFFE and U+FFFF (the ``Char``
production of the spec). A corpus written before the door was kept may still hold such
characters, so whatever writes XML passes its text through it.
"""

from __future__ import annotations

import re

MAX_TITLE_CHARS = 1000

# An ANSI escape sequence as a whole (CSI ... final byte, OSC ... BEL or ST, or ESC + one
# character), so no "[31m" is left behind; then every other C0 and C1 control character except
# tab, LF and CR, DEL, lone surrogates and the two non-characters XML 1.0 also forbids.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)
