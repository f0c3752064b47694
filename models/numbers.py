"""Dutch numerals: digit strings with decimal comma and thousands dot, and number words.

Kept free of spaCy so the rules are testable on plain strings. text2num would read single
words too, but it is not a dependency of the project and it misreads the fractions and
"anderhalf" (NLP-NOTES §2), so the small closed grammar of Dutch cardinals is written out here.
"""

from __future__ import annotations

import re
from functools import lru_cache

# A Dutch digit group: "11.000", "1,4", "2.500.000,-", "650.000", "3120", "-34", "+20".
# Thousands dots must group exactly three digits, so "3.2" (an article) and "11.10" (a time)
# are not numbers.
DIGITS = re.compile(r"[+\-±]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?(?:,-)?")
# English decimals ("2.5 miljard") are only read as such before a scale word (NLP-NOTES §5.2).
ENGLISH_DECIMAL = re.compile(r"[+\-±]?\d+\.\d{1,2}")

_UNITS = {"nul": 0, "een": 1, "één": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5,
          "zes": 6, "zeven": 7, "acht": 8, "negen": 9}
_TEENS = {"tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14, "vijftien": 15,
          "zestien": 16, "zeventien": 17, "achttien": 18, "negentien": 19}
_TENS = {"twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60,
         "zeventig": 70, "tachtig": 80, "negentig": 90}
_SMALL = {**_UNITS, **_TEENS, **_TENS}


def parse_digits(text: str, *, before_scale: bool = False) -> float | None:
    """The value of a digit string written the Dutch way, or None when it is not one.

    >>> parse_digits("11.000"), parse_digits("1,4"), parse_digits("1.500,-")
    (11000.0, 1.4, 1500.0)
    """
    text = text.replace("\u2212", "-")
    if before_scale and ENGLISH_DECIMAL.fullmatch(text):
        return float(text.lstrip("±"))
    if not DIGITS.fullmatch(text):
        return None
    plain = text.lstrip("±").removesuffix(",-").replace(".", "").replace(",", ".")
    return float(plain)


def _below_hundred(word: str) -> int | None:
    if word in _SMALL:
        return _SMALL[word]
    for tens_word, tens in _TENS.items():
        if word.endswith(tens_word):
            head = word[: -len(tens_word)]
            if head.endswith("en") and head[:-2] in _UNITS and _UNITS[head[:-2]] > 0:
                return tens + _UNITS[head[:-2]]
    return None


def _below_thousand(word: str) -> int | None:
    head, sep, tail = word.partition("honderd")
    if not sep:
        return _below_hundred(word)
    hundreds = 1 if not head else _below_hundred(head)
    rest = 0 if not tail else _below_hundred(tail.removeprefix("en"))
    if hundreds is None or rest is None or hundreds == 0:
        return None
    return hundreds * 100 + rest


@lru_cache(maxsize=4096)
def word_value(word: str) -> int | None:
    """The value of one Dutch cardinal written as a word, or None.

    Compounds are read by their grammar: "drieëntwintig" 23, "vijfhonderd" 500,
    "vijftienhonderd" 1500, "tweeduizend" 2000. Ordinals ("tweede") are not cardinals.
    """
    word = word.lower().replace("ë", "e")
    if word == "één":
        return 1
    head, sep, tail = word.partition("duizend")
    if not sep:
        return _below_thousand(word)
    thousands = 1 if not head else _below_thousand(head)
    rest = 0 if not tail else _below_thousand(tail.removeprefix("en"))
    if thousands is None or rest is None or thousands == 0:
        return None
    return thousands * 1000 + rest


@lru_cache(maxsize=4096)
def group_value(word: str) -> int | None:
    """The value of a "-tal" group noun: "tweetal" 2, "twintigtal" 20, "honderdtal" 100."""
    word = word.lower()
    if not word.endswith("tal") or len(word) < 6:
        return None
    return word_value(word[:-3])
