"""Extraction of figures and organisations from Dutch texts (spaCy, rules and a gazetteer).

    >>> from models import extract
    >>> extract("Ruim 11.000 ondernemers deden mee.").figures[0].value
    11000.0
"""

# Recorded with every extraction: raise it whenever a rule, lexicon or gazetteer change can
# change what is extracted, so stored results can be told apart and re-run.
PIPELINE_VERSION = "2026.11.1"

from .pipeline import build, extract, extract_many, load, pipeline  # noqa: E402
from .records import Extraction, Figure, Mention  # noqa: E402

__version__ = PIPELINE_VERSION
__all__ = ["PIPELINE_VERSION", "Extraction", "Figure", "Mention", "build", "extract", "extract_many",
           "load", "pipeline"]
