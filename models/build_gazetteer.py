"""Build models/data/organisations.jsonl from the public organisation registers.

Usage: python -m models.build_gazetteer [GAZETTEER_DIR] [--out PATH]

GAZETTEER_DIR holds the register files described in ../shared/gazetteer/SOURCES.md (default:
../shared/gazetteer next to the checkout). Only the few hundred organisations the monitor cares
about are kept: ministries, their agencies, inspectorates, ZBOs and advisory bodies, the high
councils of state, both chambers, Eerste Kamer committees, the parties in the Kamer, provinces and
municipalities. Loading all 4,395 register units would turn "Directie Bedrijfsvoering" into an
organisation in six ministries.

Ids are slugs ("org:kvk", "org:min-ezk"): a slug of the official abbreviation where the register
gives a unique one, else of the name. An id once written is never reassigned: the build reads the
previous output and keeps every id it already gave to a name, so stored mentions stay linked.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

HIERARCHY = "overheidsorganisaties_hierarchy_flat.csv"
OWMS = "owms_organisaties_2016.csv"
ZBO = "zbo_register_2016.csv"

DEFAULT_OUT = Path(__file__).parent / "data" / "organisations.jsonl"

# Register types kept, and the Mention.kind they become.
KINDS = {
    "Agentschap": "agency",
    "Inspectie": "inspectorate",
    "Zelfstandig bestuursorgaan": "zbo",
    "Adviescollege": "advisory",
}

# Ministries and their name history. The register holds only today's names (hierarchy, 2026)
# and the 2016 OWMS snapshot (EZ, EL&I with dates). Official abbreviations and the dates the
# names changed (cabinet installations: Rutte I 2010-10-14, Rutte II 2012-11-05, Rutte III
# 2017-10-26, Schoof 2024-07-02) are from rijksoverheid.nl and parlement.com. One entry per
# lineage: "EZK" in a 2020 text and "EZ" in a 2025 text are the same ministry.
MINISTRIES: list[dict] = [
    {"abbr": "AZ", "names": [("Algemene Zaken", None, None)]},
    {"abbr": "AenM", "aliases": ["A&M"], "names": [("Asiel en Migratie", "2024-07-02", None)]},
    {"abbr": "BZK", "names": [("Binnenlandse Zaken en Koninkrijksrelaties", None, None)]},
    {"abbr": "BZ", "aliases": ["BuZa", "Buza"], "names": [("Buitenlandse Zaken", None, None)]},
    {"abbr": "Def", "names": [("Defensie", None, None)]},
    {"abbr": "EZ", "aliases": ["EZK", "EL&I", "Economische Zaken & Klimaat"], "names": [
        ("Economische Zaken", None, "2010-10-14"),
        ("Economische Zaken, Landbouw en Innovatie", "2010-10-14", "2012-11-01"),
        ("Economische Zaken", "2012-11-01", "2017-10-26"),
        ("Economische Zaken en Klimaat", "2017-10-26", "2024-07-02"),
        ("Economische Zaken", "2024-07-02", None)]},
    {"abbr": "Fin", "aliases": ["MINFIN", "MinFin"], "names": [("Financiën", None, None)]},
    {"abbr": "IenW", "aliases": ["I&W", "IenM", "I&M", "VenW", "V&W"], "names": [
        ("Verkeer en Waterstaat", None, "2010-10-14"),
        ("Infrastructuur en Milieu", "2010-10-14", "2017-10-26"),
        ("Infrastructuur en Waterstaat", "2017-10-26", None)]},
    {"abbr": "JenV", "aliases": ["J&V", "VenJ", "V&J"], "names": [
        ("Justitie", None, "2010-10-14"),
        ("Veiligheid en Justitie", "2010-10-14", "2017-10-26"),
        ("Justitie en Veiligheid", "2017-10-26", None)]},
    {"abbr": "KGG", "names": [("Klimaat en Groene Groei", "2024-07-02", None)]},
    {"abbr": "LVVN", "aliases": ["LNV"], "names": [
        ("Landbouw, Natuur en Voedselkwaliteit", None, "2010-10-14"),
        ("Landbouw, Natuur en Voedselkwaliteit", "2017-10-26", "2024-07-02"),
        ("Landbouw, Visserij, Voedselzekerheid en Natuur", "2024-07-02", None)]},
    {"abbr": "OCW", "names": [("Onderwijs, Cultuur en Wetenschap", None, None)]},
    {"abbr": "SZW", "names": [("Sociale Zaken en Werkgelegenheid", None, None)]},
    {"abbr": "VWS", "names": [("Volksgezondheid, Welzijn en Sport", None, None)]},
    {"abbr": "VROM", "names": [
        ("Volkshuisvesting, Ruimtelijke Ordening en Milieubeheer", None, "2010-10-14")]},
    {"abbr": "VRO", "names": [("Volkshuisvesting en Ruimtelijke Ordening", "2024-07-02", None)]},
]

# The short forms of former names: a text without a date that writes "EZK" means the
# Ministerie van Economische Zaken en Klimaat.
ERA_ABBREVIATIONS = {
    "Economische Zaken en Klimaat": ["EZK", "Economische Zaken & Klimaat"],
    "Economische Zaken, Landbouw en Innovatie": ["EL&I"],
    "Infrastructuur en Milieu": ["IenM", "I&M"], "Verkeer en Waterstaat": ["VenW", "V&W"],
    "Veiligheid en Justitie": ["VenJ", "V&J"], "Landbouw, Natuur en Voedselkwaliteit": ["LNV"],
}

# Kamer party groups named after a person ("Groep Van Haga", "Lid Omtzigt", "Fractie-Otten")
# are groups of members, not parties.
PERSON_GROUP = re.compile(r"^(Fractie|Groep|Lid)\b|^Van ")
# Register rows that name a class of bodies ("Keuringsinstanties ...", "Notarissen") rather
# than one organisation.
CLASS_OF_BODIES = re.compile(
    r"(instanties|instellingen|inrichtingen|organisaties|corporaties|artsen|houders|"
    r"beheerders|meesters|deurwaarders|Notarissen|Grondkamers|Klassenbureaus|operators|"
    r"Waarborginstellingen|Bedrijfstakpensioenfondsen|gerechtigden|ex |Metacluster|Uitvoerders|"
    r"Zorgkantoren|Jury |rechtspersoon|Curriculumcommissie|Expertgroep)", re.IGNORECASE)
# Official abbreviations the register files do not print next to these names (each body's own
# website; parties: parlement.com).
ABBREVIATIONS = {
    "Centraal Bureau voor de Statistiek": "CBS", "Sociaal-Economische Raad": "SER",
    "Adviesraad voor wetenschap, technologie en innovatie": "AWTI",
    "Wetenschappelijke Raad voor het Regeringsbeleid": "WRR",
    "Rijksinspectie Digitale Infrastructuur": "RDI",
    "Nederlandse Voedsel- en Warenautoriteit": "NVWA", "Autoriteit Persoonsgegevens": "AP",
    "Nederlands Comité voor Ondernemerschap": "NCvO",
    "Partij van de Arbeid": "PvdA", "Nieuw Sociaal Contract": "NSC", "ChristenUnie": "CU",
    "Forum voor Democratie": "FVD"}
ABBR_IN_LABEL = re.compile(r"^(?P<name>.+?)\s*\((?P<abbr>[^()]+)\)$")


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def is_abbreviation(text: str, shortest: int = 3) -> bool:
    """An official short form usable as a case-sensitive alias: one word, two capitals or more.
    Two-letter forms ("WK", "VF") are other words far more often, except for ministries."""
    return (" " not in text and shortest <= len(text) <= 10
            and sum(c.isupper() for c in text) >= 2)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def entry(name: str, kind: str, source: str, *, abbr: str | None = None,
          aliases: Iterable[str] = (), parent: str | None = None,
          valid_from: str | None = None, valid_to: str | None = None,
          names: list[dict] | None = None, refs: dict | None = None,
          abbr_is_alias: bool = True) -> dict:
    return {"name": name, "kind": kind, "abbr": abbr,
            "aliases": sorted({a for a in (name, abbr if abbr_is_alias else None, *aliases) if a}),
            "valid_from": valid_from or None, "valid_to": valid_to or None,
            "names": names or [], "parent": parent, "source": source, "refs": refs or {}}


def ministries() -> Iterator[dict]:
    for m in MINISTRIES:
        names = [{"name": f"Ministerie van {n}", "valid_from": f, "valid_to": t,
                  "aliases": ERA_ABBREVIATIONS.get(n, [])} for n, f, t in m["names"]]
        short = {n for n, _, _ in m["names"]}
        # A one-word short name ("Defensie") is an ordinary word too; the component accepts it
        # only after "van" (see organisations.py), so it is not an alias of its own.
        aliases = ([n["name"] for n in names] + [s for s in short if " " in s]
                   + [m["abbr"]] * is_abbreviation(m["abbr"], 2) + m.get("aliases", []))
        starts = [n["valid_from"] for n in names]
        ends = [n["valid_to"] for n in names]
        yield entry(names[-1]["name"], "ministry", "rijksoverheid.nl; " + HIERARCHY + "; " + OWMS,
                    abbr=m["abbr"], aliases=aliases, abbr_is_alias=False,
                    valid_from=None if None in starts else min(starts),
                    valid_to=None if None in ends else max(ends),
                    names=names if len(names) > 1 else [],
                    refs={"short_names": sorted(short)})


def register_bodies(hierarchy: list[dict], zbo_abbr: dict[str, str],
                    owms: dict[str, dict]) -> Iterator[dict]:
    for row in hierarchy:
        kind = KINDS.get(row["type"])
        if kind is None or row["depth"] != "4" or CLASS_OF_BODIES.search(row["name"]):
            continue
        match = ABBR_IN_LABEL.match(row["label"])
        abbr = match["abbr"] if match else zbo_abbr.get(row["name"].lower())
        known = owms.get(row["name"].lower(), {})
        abbr = abbr or known.get("abbreviation") or ABBREVIATIONS.get(row["name"])
        yield entry(row["name"], kind, HIERARCHY + (f"; {ZBO}" if row["name"].lower() in zbo_abbr else ""),
                    abbr=abbr if abbr and is_abbreviation(abbr) else None,
                    parent=row["ministry"] or None,
                    valid_from=known.get("startDate"), valid_to=known.get("endDate"),
                    refs={"owms": known["owms_id"]} if known else {})


def high_councils(hierarchy: list[dict], owms: dict[str, dict]) -> Iterator[dict]:
    for row in hierarchy:
        if row["type"] == "Hoog College van Staat" and row["depth"] == "2":
            known = owms.get(row["name"].lower(), {})
            kind = "chamber" if "Kamer der Staten-Generaal" in row["name"] else "high_council"
            yield entry(row["name"], kind, HIERARCHY,
                        refs={"owms": known["owms_id"]} if known else {})


def ek_committees(hierarchy: list[dict]) -> Iterator[dict]:
    for row in hierarchy:
        if row["parent"] == "Commissies EK" and row["name"].startswith("Commissie"):
            match = ABBR_IN_LABEL.match(row["label"])
            name = match["name"] if match else row["name"]
            yield entry(name, "committee", HIERARCHY, parent="Eerste Kamer der Staten-Generaal")


def parties(hierarchy: list[dict]) -> Iterator[dict]:
    """Parties with a group in either chamber. The Eerste Kamer labels give the full name and
    abbreviation ("Partij voor de Vrijheid (PVV)"); Tweede Kamer groups are often only the
    abbreviation ("PVV"), and are merged into the same entry."""
    rows = [r for r in hierarchy
            if r["parent"] in ("Fracties EK", "Kamer") and not PERSON_GROUP.search(r["name"])]
    abbr_of: dict[str, str | None] = {}
    for row in rows:
        match = ABBR_IN_LABEL.match(row["label"])
        name, abbr = (match["name"], match["abbr"]) if match else (row["label"], None)
        abbr_of[name] = abbr or abbr_of.get(name) or ABBREVIATIONS.get(name)
    full_name = {abbr: name for name, abbr in abbr_of.items() if abbr}
    chambers: dict[str, set[str]] = {}
    for row in rows:
        name = ABBR_IN_LABEL.sub(r"\g<name>", row["label"])
        chamber = "Eerste Kamer" if row["parent"] == "Fracties EK" else "Tweede Kamer"
        chambers.setdefault(full_name.get(name, name), set()).add(chamber)
    for name, found_in in chambers.items():
        yield entry(name, "party", HIERARCHY, abbr=abbr_of.get(name),
                    refs={"chambers": sorted(found_in)})


def decentral(hierarchy: list[dict]) -> Iterator[dict]:
    """Provinces and municipalities, as "Provincie Utrecht" / "gemeente Utrecht": the bare place
    name is a place, not the organisation."""
    for row in hierarchy:
        if row["type"] in ("Gemeente", "Provincie") and row["depth"] == "3":
            kind = "municipality" if row["type"] == "Gemeente" else "province"
            head, _, place = row["name"].partition(" ")
            yield entry(row["name"], kind, HIERARCHY, aliases=[f"{head.lower()} {place}"])


def assign_ids(entries: list[dict], previous: dict[str, str]) -> list[dict]:
    abbr_count = Counter(e["abbr"].lower() for e in entries if e["abbr"])
    taken = set(previous.values())
    for e in entries:
        if e["name"] in previous:
            e["id"] = previous[e["name"]]
            continue
        prefix = "org:min-" if e["kind"] == "ministry" else "org:"
        base = e["abbr"] if e["abbr"] and abbr_count[e["abbr"].lower()] == 1 else e["name"]
        candidate = prefix + slug(base)
        if candidate in taken:  # a second body of the same abbreviation or name
            candidate = prefix + slug(e["name"])
        n = 2
        while candidate in taken:
            candidate, n = f"{prefix}{slug(e['name'])}-{n}", n + 1
        e["id"] = candidate
        taken.add(candidate)
    return entries


def build(gazetteer_dir: Path, previous: dict[str, str] | None = None) -> list[dict]:
    hierarchy = read_csv(gazetteer_dir / HIERARCHY)
    owms = {r["prefLabel"].lower(): r for r in read_csv(gazetteer_dir / OWMS)}
    zbo_abbr = {r["Naam"].lower(): r["Afkorting"] for r in read_csv(gazetteer_dir / ZBO)
                if r["Afkorting"]}
    entries = [*ministries(), *register_bodies(hierarchy, zbo_abbr, owms),
               *high_councils(hierarchy, owms), *ek_committees(hierarchy), *parties(hierarchy),
               *decentral(hierarchy)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for e in entries:  # the register lists a few bodies twice (e.g. "Curriculumcommissie")
        if (e["name"], e["kind"]) not in seen:
            seen.add((e["name"], e["kind"]))
            unique.append(e)
    by_name = {e["name"].lower(): e for e in unique}
    entries = assign_ids(unique, previous or {})
    ministry_ids = {s.lower(): e["id"] for e in entries if e["kind"] == "ministry"
                    for s in e["refs"]["short_names"]}
    for e in entries:
        parent = e["parent"]
        if parent:
            e["parent"] = ministry_ids.get(parent.lower()) or by_name.get(parent.lower(), {}).get("id")
    return entries


def previous_ids(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as f:
        return {r["name"]: r["id"] for r in map(json.loads, f)}


def write(entries: list[dict], out: Path) -> None:
    fields = ("id", "name", "kind", "aliases", "valid_from", "valid_to", "names", "parent",
              "source", "refs")
    with out.open("w", encoding="utf-8") as f:
        for e in sorted(entries, key=lambda e: e["id"]):
            f.write(json.dumps({k: e[k] for k in fields}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gazetteer_dir", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "gazetteer")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (args.gazetteer_dir / HIERARCHY).exists():
        parser.error(f"no {HIERARCHY} in {args.gazetteer_dir}")
    entries = build(args.gazetteer_dir, previous_ids(args.out))
    write(entries, args.out)
    counts = Counter(e["kind"] for e in entries)
    print(f"{len(entries)} organisations -> {args.out}: "
          + ", ".join(f"{k} {n}" for k, n in counts.most_common()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
