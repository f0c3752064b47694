"""The organisations the monitor knows by name: ids, canonical names, aliases and name history.

Two data files ship in models/data: ``organisations.jsonl``, built from the public registers by
``models.build_gazetteer``, and ``organisations_curated.jsonl``, kept by hand for the bodies no
register holds (branch organisations, banks, programmes, universities, EU bodies, companies),
each with its source. A curated line whose id is already in the register file is an overlay: its
aliases are added to the register entry (the registers do not know "KVK" or "Tweede Kamer").

    >>> gazetteer = load()
    >>> gazetteer.lookup("Comité van Ondernemerschap").id
    'org:ncvo'
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from monitor.errors import ExtractionError

DATA = Path(__file__).parent / "data"
REGISTER_FILE = DATA / "organisations.jsonl"
CURATED_FILE = DATA / "organisations_curated.jsonl"

_ARTICLE = re.compile(r"^(de|het|the)\s+", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w&]+")


@lru_cache(maxsize=65_536)  # called for every mention: canonical names compare normalised forms
def normalise(name: str) -> str:
    """The form aliases are compared in: case, accents, "&"/"en", a leading article, spacing and
    punctuation do not matter ("de Minister van Economische Zaken & Klimaat" ~ "... en ...")."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    text = _ARTICLE.sub("", text.strip())
    text = _NON_WORD.sub(" ", text).replace("&", " en ")
    return " ".join(text.split())


@dataclass(frozen=True)
class DatedName:
    name: str
    valid_from: str | None = None  # ISO date, inclusive
    valid_to: str | None = None  # ISO date, exclusive
    aliases: tuple[str, ...] = ()  # short forms of this name only ("EZK")

    def covers(self, day: str) -> bool:
        return (self.valid_from or "") <= day and (self.valid_to is None or day < self.valid_to)

    def written_as(self, written: str) -> bool:
        """Whether a text writes this name: in full, without "Ministerie van", or an alias."""
        return normalise(written) in _normal_forms(self)


@lru_cache(maxsize=None)  # a few hundred dated names; asked for every mention without a date
def _normal_forms(dated: DatedName) -> frozenset[str]:
    return frozenset(normalise(form) for form in
                     (dated.name, dated.name.removeprefix("Ministerie van "), *dated.aliases))


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str  # today's canonical name
    kind: str
    aliases: tuple[str, ...] = ()
    valid_from: str | None = None
    valid_to: str | None = None
    names: tuple[DatedName, ...] = ()  # the name history of a renamed body, oldest first
    parent: str | None = None
    source: str = ""
    refs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def name_on(self, day: str | None, written: str | None = None) -> str:
        """The canonical name on an ISO date ("2020-05-01" -> "Ministerie van Economische Zaken en
        Klimaat"). Without a date, the former name the text writes ("EZK" -> the same), else
        today's name."""
        if day:
            for dated in self.names:
                if dated.covers(day[:10]):
                    return dated.name
        elif written:
            for dated in self.names:
                if dated.written_as(written):
                    return dated.name
        return self.name

    def asdict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Organisation:
        return cls(id=record["id"], name=record["name"], kind=record["kind"],
                   aliases=tuple(record.get("aliases", ())),
                   valid_from=record.get("valid_from"), valid_to=record.get("valid_to"),
                   names=tuple(DatedName(n["name"], n.get("valid_from"), n.get("valid_to"),
                                         tuple(n.get("aliases", ())))
                               for n in record.get("names", ())),
                   parent=record.get("parent"), source=record.get("source", ""),
                   refs=record.get("refs", {}))


class Gazetteer:
    """All known organisations, by id and by every alias."""

    def __init__(self, organisations: Iterable[Organisation]) -> None:
        self._by_id: dict[str, Organisation] = {}
        self._by_alias: dict[str, Organisation] = {}
        self._by_normal: dict[str, Organisation] = {}
        for org in organisations:
            self._by_id[org.id] = org
        for org in self._by_id.values():
            for alias in (org.name, *org.aliases, *(n.name for n in org.names)):
                # The first organisation to claim an alias keeps it: register order puts
                # national bodies before the curated additions.
                self._by_alias.setdefault(alias, org)
                self._by_normal.setdefault(normalise(alias), org)

    def __iter__(self) -> Iterator[Organisation]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, org_id: object) -> bool:
        return org_id in self._by_id

    def get(self, org_id: str) -> Organisation | None:
        return self._by_id.get(org_id)

    def lookup(self, name_or_alias: str) -> Organisation | None:
        """Resolve what a user or a text calls an organisation: an id ("org:kvk"), an alias as
        written ("KvK"), or any spelling of a name ("de kamer van koophandel")."""
        text = name_or_alias.strip()
        return (self._by_id.get(text) or self._by_alias.get(text)
                or self._by_normal.get(normalise(text)))

    def aliases(self) -> Iterator[tuple[str, Organisation]]:
        """Every (alias, organisation) pair, names and former names included."""
        return iter(self._by_alias.items())


def read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExtractionError(f"{path.name} line {number}: not JSON ({exc.msg})",
                                      path=str(path), line=number) from exc
            if not isinstance(record, dict) or "id" not in record:
                raise ExtractionError(f"{path.name} line {number}: an organisation needs an id",
                                      path=str(path), line=number)
            records.append(record)
    return records


def merge(register: list[dict[str, Any]], curated: list[dict[str, Any]]) -> list[Organisation]:
    by_id = {r["id"]: dict(r) for r in register}
    for record in curated:
        base = by_id.get(record["id"])
        if base is None:
            by_id[record["id"]] = dict(record)
            continue
        base["aliases"] = sorted({*base.get("aliases", ()), *record.get("aliases", ())})
        base["source"] = "; ".join(s for s in (base.get("source"), record.get("source")) if s)
    try:
        return [Organisation.from_record(r) for r in by_id.values()]
    except (KeyError, TypeError) as exc:
        raise ExtractionError(f"organisation record incomplete: {exc}") from exc


def load(register: Path = REGISTER_FILE, curated: Path = CURATED_FILE) -> Gazetteer:
    """The gazetteer from the shipped data files (cached), or from other files for tests."""
    return _load(Path(register), Path(curated))


@lru_cache(maxsize=4)
def _load(register: Path, curated: Path) -> Gazetteer:
    return Gazetteer(merge(read_records(register), read_records(curated)))
