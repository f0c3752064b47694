"""Text made safe for where it is shown.

``xml_safe`` is for XML output (the Atom feeds): XML 1.0 allows tab, line feed, carriage return
and every other character from U+0020 except the surrogates, U+FFFE and U+FFFF (the ``Char``
production of the spec); one other character, a ``\\x01`` in a title, makes lxml refuse the
whole document. Stored text is cleaned when it is stored, but a corpus written before that may
still hold such characters, so whatever writes XML passes its text through here.
"""

from __future__ import annotations

import re

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)
