"""The gazetteer: the shipped data, lookups by alias, dated names, the build from the registers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from models import build_gazetteer
from models.gazetteer import CURATED_FILE, REGISTER_FILE, load, normalise, read_records
from monitor.errors import ExtractionError

SHARED_GAZETTEER = Path(__file__).resolve().parents[2] / "shared" / "gazetteer"


@pytest.fixture(scope="module")
def gazetteer():
    return load()


def test_ids_are_unique_slugs_and_every_curated_entry_has_a_source():
    register, curated = read_records(REGISTER_FILE), read_records(CURATED_FILE)
    ids = [r["id"] for r in register]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("org:") and i == i.lower() and " " not in i for i in ids)
    assert all(r["source"] for r in curated)
    new = [r["id"] for r in curated if r["id"] not in set(ids)]
    assert len(new) == len(set(new))


def test_every_kind_the_monitor_needs_is_there(gazetteer):
    kinds = Counter(org.kind for org in gazetteer)
    for kind in ("ministry", "agency", "zbo", "advisory", "chamber", "committee", "party",
                 "province", "municipality", "branch", "bank", "research", "education",
                 "programme", "eu", "international"):
        assert kinds[kind] > 0, kind
    assert kinds["ministry"] == 16 and kinds["province"] == 12


@pytest.mark.parametrize("written, org_id", [
    ("Comité van Ondernemerschap", "org:ncvo"),
    ("Nederlands Comité voor Ondernemerschap", "org:ncvo"),
    ("NCvO", "org:ncvo"),
    ("KVK", "org:kvk"),
    ("KvK", "org:kvk"),
    ("de kamer van koophandel", "org:kvk"),
    ("org:cbs", "org:cbs"),
    ("Centraal Bureau voor de Statistiek", "org:cbs"),
    ("Economische Zaken & Klimaat", "org:min-ez"),
    ("ministerie van economische zaken en klimaat", "org:min-ez"),
    ("EZK", "org:min-ez"),
    ("Tweede Kamer", "org:tweede-kamer-der-staten-generaal"),
    ("GL-PvdA", "org:groenlinks-pvda"),
    ("Partij voor de Vrijheid", "org:pvv"),
    ("RVO", "org:rvo"),
    ("OECD", "org:oeso"),
    ("EIM", "org:panteia"),
    ("provincie Fryslân", "org:provincie-fryslan"),
    ("Gemeente Utrecht", "org:gemeente-utrecht"),
])
def test_lookup_by_name_alias_or_id(gazetteer, written, org_id):
    assert gazetteer.lookup(written).id == org_id


def test_lookup_of_an_unknown_name_is_none(gazetteer):
    assert gazetteer.lookup("Stichting Bestaat Niet") is None
    assert gazetteer.lookup("") is None


@pytest.mark.parametrize("day, name", [
    ("2016-05-01", "Ministerie van Economische Zaken"),
    ("2011-03-01", "Ministerie van Economische Zaken, Landbouw en Innovatie"),
    ("2017-10-26", "Ministerie van Economische Zaken en Klimaat"),
    ("2024-07-01", "Ministerie van Economische Zaken en Klimaat"),
    ("2024-07-02", "Ministerie van Economische Zaken"),
    ("2025-10-14T08:00:00+02:00", "Ministerie van Economische Zaken"),
    (None, "Ministerie van Economische Zaken"),
])
def test_the_economische_zaken_lineage_is_named_by_date(gazetteer, day, name):
    assert gazetteer.get("org:min-ez").name_on(day) == name


@pytest.mark.parametrize("written, name", [
    ("EZK", "Ministerie van Economische Zaken en Klimaat"),
    ("Economische Zaken & Klimaat", "Ministerie van Economische Zaken en Klimaat"),
    ("EZ", "Ministerie van Economische Zaken"),
    ("EL&I", "Ministerie van Economische Zaken, Landbouw en Innovatie"),
])
def test_without_a_date_the_former_name_as_written_is_kept(gazetteer, written, name):
    assert gazetteer.get("org:min-ez").name_on(None, written) == name


def test_klimaat_en_groene_groei_is_its_own_ministry_from_july_2024(gazetteer):
    kgg = gazetteer.lookup("KGG")
    assert kgg.id == "org:min-kgg" and kgg.valid_from == "2024-07-02"
    assert gazetteer.lookup("EZK").id != kgg.id


def test_normalise_ignores_case_accents_articles_and_ampersands():
    assert normalise("de Minister van Economische Zaken & Klimaat") == \
        normalise("minister van economische zaken en klimaat")
    assert normalise("Provincie Fryslân") == "provincie fryslan"


def test_a_curated_line_with_a_register_id_adds_aliases(tmp_path):
    register = tmp_path / "register.jsonl"
    curated = tmp_path / "curated.jsonl"
    register.write_text(json.dumps({"id": "org:kvk", "name": "Kamer van Koophandel", "kind": "zbo",
                                    "aliases": ["KvK"], "source": "zbo_register_2016.csv"}) + "\n")
    curated.write_text(json.dumps({"id": "org:kvk", "aliases": ["KVK"], "source": "https://www.kvk.nl/"})
                       + "\n")
    gazetteer = load(register, curated)
    assert len(gazetteer) == 1
    kvk = gazetteer.lookup("KVK")
    assert kvk.name == "Kamer van Koophandel" and set(kvk.aliases) == {"KvK", "KVK"}
    assert "kvk.nl" in kvk.source and "zbo_register" in kvk.source


def test_a_broken_data_file_is_a_clear_error(tmp_path):
    register = tmp_path / "register.jsonl"
    register.write_text('{"id": "org:a", "name": "A", "kind": "zbo"}\n{"id": broken\n')
    with pytest.raises(ExtractionError, match="line 2"):
        load(register, CURATED_FILE)


@pytest.mark.skipif(not SHARED_GAZETTEER.exists(), reason="../shared/gazetteer is not here")
def test_the_shipped_file_is_what_the_build_makes_from_the_registers():
    previous = build_gazetteer.previous_ids(REGISTER_FILE)
    built = {e["id"]: e for e in build_gazetteer.build(SHARED_GAZETTEER, previous)}
    shipped = {r["id"]: r for r in read_records(REGISTER_FILE)}
    assert built.keys() == shipped.keys()
    for org_id, record in shipped.items():
        assert {k: built[org_id][k] for k in record} == record


@pytest.mark.skipif(not SHARED_GAZETTEER.exists(), reason="../shared/gazetteer is not here")
def test_build_keeps_ids_it_gave_before(tmp_path):
    out = tmp_path / "organisations.jsonl"
    out.write_text(json.dumps({"id": "org:kamer-van-koophandel", "name": "Kamer van Koophandel"}) + "\n")
    assert build_gazetteer.main([str(SHARED_GAZETTEER), "--out", str(out)]) == 0
    ids = {r["name"]: r["id"] for r in read_records(out)}
    assert ids["Kamer van Koophandel"] == "org:kamer-van-koophandel"
    assert ids["Rijksdienst voor Ondernemend Nederland"] == "org:rvo"
