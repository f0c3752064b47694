"""Extraction of figures and organisations from Dutch texts (spaCy, rules and a gazetteer).

    >>> from models import extract
    >>> extract("Ruim 11.000 ondernemers deden mee.").figures[0].value
    11000.0

The pipeline's names are loaded on first use (PEP 562), so `import models.records`, which the
store and the CLI need on every start, does not load spaCy.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import Any

from .records import Extraction, Figure, Mention

# Raise it whenever a rule change can change what is extracted. The version recorded with every
# extraction also carries a hash of the data files (gazetteer, lexicon), so a changed gazetteer
# marks stored extractions stale without anyone remembering to raise this.
RULES_VERSION = "2026.11.1"
DATA = Path(__file__).parent / "data"

_PIPELINE_NAMES = ("build", "extract", "extract_many", "load", "shared_nlp")


@lru_cache(maxsize=1)
def version() -> str:
    """RULES_VERSION with a short hash of models/data ("2026.11.1+3f2a9c1e", a PEP 440 local
    version): what `models.PIPELINE_VERSION` and every `Extraction.pipeline_version` hold."""
    digest = hashlib.sha256()
    for path in sorted(p for p in DATA.rglob("*") if p.is_file()):
        digest.update(path.relative_to(DATA).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{RULES_VERSION}+{digest.hexdigest()[:8]}"


def __getattr__(name: str) -> Any:
    if name in ("PIPELINE_VERSION", "__version__"):
        return version()
    if name == "pipeline":
        return import_module(".pipeline", __name__)
    if name in _PIPELINE_NAMES:
        # Importing the submodule binds `models.pipeline` to it (the module, as its name says).
        module = import_module(".pipeline", __name__)
        globals().update({n: getattr(module, n) for n in _PIPELINE_NAMES})
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PIPELINE_VERSION", "RULES_VERSION", "Extraction", "Figure", "Mention", "build", "extract",
           "extract_many", "load", "shared_nlp", "version"]
