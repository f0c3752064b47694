"""Which words a search word should find: Snowball's Dutch stemmers against spaCy's Dutch lemma
table, and combinations, measured on real texts (issue 16).

    python bench/dutch_matching.py

Each way of matching is a *key*: two word forms match when their keys are equal (search expands a
query word to every indexed form with its key). For a table of everyday query words, each with
the forms a Dutch reader expects it to find (inflections, and -ing/verb derivations) and the
forms that are debatable (counted neither way), it reports

- documents: recall and precision over the real texts (``../shared/gold/dev.jsonl`` and the
  text fixtures in ``tests/fixtures``): a document is relevant when it contains an expected form;
  one found only through a debatable form counts neither way;
- forms: over a large Dutch vocabulary (the texts' words and the 213,000 forms of spaCy's lemma
  table), how many expected forms each key finds, and how many other forms it wrongly joins
  (``kans`` with ``kan``, ``gemeente`` with ``menen``), with examples.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.common import GOLD, REPO, print_environment  # noqa: E402
from monitor import wordforms  # noqa: E402
from monitor.wordforms import fold, words  # noqa: E402

# query word: (expected forms, debatable forms). Written from Dutch grammar, not from any stemmer's
# output; the forms the stemmers joined that are in neither list were read and are wrong.
QUERIES: dict[str, tuple[str, str]] = {
    "werknemer": ("werknemer werknemers", ""),
    "werkgever": ("werkgever werkgevers", ""),
    "bedrijf": ("bedrijf bedrijven bedrijfje bedrijfjes", ""),
    "bedrijven": ("bedrijf bedrijven bedrijfje bedrijfjes", ""),
    "ondernemer": ("ondernemer ondernemers", ""),
    "ondernemers": ("ondernemer ondernemers", ""),
    "onderneming": ("onderneming ondernemingen", "ondernemen onderneemt ondernam ondernamen ondernomen ondernemend "
                                                  "ondernemende"),
    "ondernemerschap": ("ondernemerschap", ""),
    "medewerker": ("medewerker medewerkers", ""),
    "zelfstandige": ("zelfstandige zelfstandigen", "zelfstandig"),
    "starter": ("starter starters", ""),
    "startup": ("startup startups", ""),
    "digitalisering": ("digitalisering digitaliseringen digitaliseren digitaliseert digitaliseerde "
                       "digitaliseerden gedigitaliseerd gedigitaliseerde", ""),
    "digitaliseren": ("digitalisering digitaliseringen digitaliseren digitaliseert digitaliseerde "
                      "digitaliseerden gedigitaliseerd gedigitaliseerde digitaliseer", ""),
    "digitaal": ("digitaal digitale", "digitaler digitaalst"),
    "gemeente": ("gemeente gemeenten gemeentes", ""),
    "regeling": ("regeling regelingen", "regelen regelt regelde regelden geregeld"),
    "regel": ("regel regels", "regelen"),
    "subsidie": ("subsidie subsidies", "subsidiëren subsidieert gesubsidieerd gesubsidieerde"),
    "kans": ("kans kansen", ""),
    "investering": ("investering investeringen investeren investeert investeerde investeerden geïnvesteerd",
                    "investeer"),
    "innovatie": ("innovatie innovaties", "innovatief innovatieve innoveren innoveert"),
    "economie": ("economie economieën", "economisch economische"),
    "veilig": ("veilig veilige veiliger veiligst veiligste", ""),
    "groei": ("groei groeien groeit groeide groeiden gegroeid groeiend groeiende", "groeiden"),
    "groeien": ("groei groeien groeit groeide groeiden gegroeid groeiend groeiende groeiden", ""),
    "werken": ("werken werkt werkte werkten gewerkt werkend werkende", "werk"),
    "minister": ("minister ministers", ""),
    "ministerie": ("ministerie ministeries", ""),
    "maatregel": ("maatregel maatregelen", ""),
    "belasting": ("belasting belastingen", "belasten belast"),
    "lening": ("lening leningen", "lenen leent leende geleend"),
    "financiering": ("financiering financieringen financieren financiert financierde gefinancierd "
                     "gefinancierde", ""),
    "krediet": ("krediet kredieten", ""),
    "onderzoek": ("onderzoek onderzoeken onderzoekt onderzocht onderzochte", ""),
    "cijfer": ("cijfer cijfers", ""),
    "klein": ("klein kleine kleiner kleinere kleinst kleinste", ""),
    "kleine": ("klein kleine kleiner kleinere kleinst kleinste", ""),
    "groot": ("groot grote groter grotere grootst grootste", ""),
    "jaar": ("jaar jaren", ""),
    "brief": ("brief brieven", ""),
    "kamerbrief": ("kamerbrief kamerbrieven", ""),
    "website": ("website websites", ""),
    "organisatie": ("organisatie organisaties", ""),
    "overheid": ("overheid overheden", ""),
    "mens": ("mens mensen", ""),
    "werkplaats": ("werkplaats werkplaatsen", ""),
    "cyberaanval": ("cyberaanval cyberaanvallen", ""),
    "vaardigheid": ("vaardigheid vaardigheden", ""),
    "dienst": ("dienst diensten", ""),
    "product": ("product producten", ""),
    "sector": ("sector sectoren sectors", ""),
    "stijging": ("stijging stijgingen stijgen stijgt steeg stegen gestegen", "stijgend stijgende"),
    "land": ("land landen", ""),
    "bank": ("bank banken", ""),
    "data": ("data", ""),
    "kosten": ("kosten", "kost kostte kostten gekost"),
    "personeel": ("personeel", ""),
    "technologie": ("technologie technologieën", "technologisch technologische"),
    "uitdaging": ("uitdaging uitdagingen", ""),
    "gegevens": ("gegevens", ""),
    "procent": ("procent procenten", ""),
}


def lemma_table() -> dict[str, str]:
    """spaCy's Dutch lemma lookup table (spacy-lookups-data), form -> lemma."""
    data = resources.files("spacy_lookups_data").joinpath("data", "nl_lemma_lookup.json.gz")
    with gzip.open(data.open("rb"), "rt", encoding="utf-8") as f:
        return {fold(form): fold(lemma) for form, lemma in json.load(f).items()}


def keys() -> dict[str, Callable[[str], Any]]:
    import Stemmer

    lemmas = lemma_table()
    dutch, porter = Stemmer.Stemmer("dutch"), Stemmer.Stemmer("dutch_porter")
    return {
        "exact form (before)": lambda w: w,
        "Snowball dutch (3.x)": dutch.stemWord,
        "Snowball dutch_porter": porter.stemWord,
        "lemma table": lambda w: lemmas.get(w, w),
        "lemma, then dutch": lambda w: dutch.stemWord(lemmas.get(w, w)),
        "lemma, then dutch_porter": lambda w: porter.stemWord(lemmas.get(w, w)),
        "both stemmers, no guards": lambda w: (dutch.stemWord(lemmas.get(w, w)), porter.stemWord(lemmas.get(w, w))),
        "chosen: wordforms.keys": wordforms.keys,
    }


def texts() -> list[str]:
    paths = [GOLD, REPO / "tests/fixtures/gold_government.jsonl", REPO / "tests/fixtures/import/government.jsonl"]
    found = []
    for path in paths:
        if path.exists():
            with path.open(encoding="utf-8") as f:
                found += [f"{r.get('title', '')}\n{r['text']}" for r in map(json.loads, f) if r.get("text")]
    return found


def parts(key: Any) -> list[tuple[int, str]]:
    """A key, or each of a pair of keys (forms that share either are one word)."""
    return list(enumerate(key)) if isinstance(key, tuple) else [(0, key)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=6, help="wrongly joined forms shown per way")
    parser.add_argument("--detail", help="print, for this way, each query's misses and wrong documents")
    args = parser.parse_args(argv)
    print_environment()
    documents = [set(words(t)) for t in texts()]
    vocabulary = set().union(*documents) | set(lemma_table())
    print(f"{len(documents)} texts; vocabulary of {len(vocabulary):,} forms")
    print(f"{'way':28} {'doc recall':>10} {'doc precision':>13} {'forms found':>11} {'wrongly joined':>14}")
    for name, key in keys().items():
        by_key: dict[tuple[int, str], set[str]] = defaultdict(set)
        for form in vocabulary:
            for part in parts(key(form)):
                by_key[part].add(form)
        found = relevant = returned = right = 0
        expected_forms = found_forms = 0
        wrong: list[str] = []
        for query, (expected_text, debatable_text) in QUERIES.items():
            expected, debatable = set(words(expected_text)), set(words(debatable_text))
            forms = set().union(*(by_key[part] for part in parts(key(query)))) | {query}
            expected_forms += len(expected)
            found_forms += len(expected & forms)
            wrong += [f"{query}~{f}" for f in sorted(forms - expected - debatable)]
            for doc in documents:
                is_relevant, is_returned = bool(doc & expected), bool(doc & forms)
                if not is_relevant and doc & debatable:
                    continue  # found through a debatable form only: neither right nor wrong
                relevant += is_relevant
                returned += is_returned
                right += is_relevant and is_returned
                if name == args.detail and is_relevant != is_returned:
                    print(f"  {query}: {'missed' if is_relevant else 'wrong'} "
                          f"{sorted(doc & (expected if is_relevant else forms))}")
        found += right
        print(f"{name:28} {right / relevant:10.3f} {right / max(returned, 1):13.3f} "
              f"{found_forms:5d}/{expected_forms:<5d} {len(wrong):14d}  {', '.join(wrong[:args.examples])}")


if __name__ == "__main__":
    main()
