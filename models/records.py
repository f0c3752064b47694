"""The records extraction yields: plain data, no spaCy objects, so they cross process and
storage boundaries freely. Offsets are Python string indices into the text as given.

Not frozen: a frozen dataclass sets each field through `object.__setattr__`, which made
building the records (some forty per document) cost a tenth of tokenising."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UNITS = ("percent", "EUR", "count", "duration", "other")
QUALIFIERS = ("approx", "more_than", "less_than", "at_least", "at_most")


@dataclass(slots=True)
class Figure:
    start: int
    end: int
    text: str
    value: float
    value_max: float | None
    unit: str  # one of UNITS
    subject: str | None  # the counted noun, as written ("ondernemers")
    qualifier: str | None  # one of QUALIFIERS, or None
    sentence: str

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    text: str
    canonical: str  # the organisation's canonical name
    id: str | None  # the gazetteer id; None for an organisation outside the gazetteer
    kind: str | None  # ministry, agency, zbo, advisory, chamber, committee, party, branch, ...
    sentence: str

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extraction:
    figures: list[Figure] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    pipeline_version: str | None = None  # models.PIPELINE_VERSION of the pipeline that made it

    def asdict(self) -> dict[str, Any]:
        return {"figures": [f.asdict() for f in self.figures],
                "organisations": [m.asdict() for m in self.mentions],
                "pipeline_version": self.pipeline_version}
