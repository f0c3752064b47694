"""How values look at a terminal: numbers nobody misreads, text that cannot drive the terminal.

Numbers: the digits grouped by three with a (no-break) space and a decimal comma, as ISO 80000-1
and Dutch usage have it: ``90 623`` and ``12,5``. A comma or a point as the thousands separator
is read the other way round by half the readers (``90,623`` is ninety point six to a Dutch
reader, ``90.623`` to an English one); a space is read one way by both.

Text: whatever a corpus or a user supplied, printed through rich, goes through ``plain`` (no
control characters or ANSI sequences, see monitor/text.py); in a table cell it is a ``cell``
and in a markup string ``markup`` (rich's escape), so ``[sources.x]`` or ``a[/]b`` prints as
written instead of being read as markup (a table reads a plain string as markup too).
"""

from __future__ import annotations

import math

from rich.markup import escape
from rich.text import Text

from monitor.text import clean

GROUP = "\u00a0"  # a no-break space: a number is never wrapped across lines


def number(value: float | int | None) -> str:
    """``90 623``, ``1 234 567,5``, ``12,5``, ``0,0425``: whole numbers in full, others to two
    decimals (four significant digits below one), never in exponent notation."""
    if value is None:
        return ""
    if float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}".rstrip("0")
    else:
        decimals = 3 - math.floor(math.log10(abs(value)))  # four significant digits
        text = f"{value:.{decimals}f}".rstrip("0")
    return text.replace(",", GROUP).replace(".", ",")


def plain(text: str | None) -> str:
    """Text safe to print: no control characters, no escape sequences."""
    return clean(text or "")


def markup(text: str | None) -> str:
    """Text safe to put into a rich markup string."""
    return escape(plain(text))


def cell(text: str | None) -> Text:
    """Text for a table cell, shown as written."""
    return Text(plain(text))
