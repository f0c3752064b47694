import gc
import json
import re
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
import spacy

import models
from models import PIPELINE_VERSION, Extraction, build, extract, extract_many, load
from models.columns import PerWord, WordFacts, doc_text, word_facts
from models.pipeline import CHUNK_CHARS, chunks, shared_nlp

pipeline_module = sys.modules["models.pipeline"]

TEXT = ("Ruim 11.000 ondernemers (o.a. bakkers, bijv. in Utrecht) kregen ca. 300 euro, zegt dat. "
        "De KVK zag in 2023 91% van de mkb’ers groeien.\n\nZie nr. 5 en art. 3 van de wet.")


def test_the_pipeline_is_versioned_and_named():
    nlp = shared_nlp()
    assert models.__version__ == PIPELINE_VERSION == nlp.meta["version"]
    assert nlp.pipe_names == ["mkb_sentences", "mkb_organisations", "mkb_figures"]
    assert extract(TEXT).pipeline_version == PIPELINE_VERSION


@pytest.mark.slow
def test_round_trip_through_disk_gives_the_same_extractions(tmp_path):
    nlp = build()
    nlp.to_disk(tmp_path / "nlp")
    loaded = load(tmp_path / "nlp")
    assert loaded.pipe_names == nlp.pipe_names
    assert loaded.meta["version"] == PIPELINE_VERSION
    assert (tmp_path / "nlp" / "mkb_figures" / "lexicon.json").exists()
    [ours] = extract_many([(TEXT, None)], nlp=nlp)
    [theirs] = extract_many([(TEXT, None)], nlp=loaded)
    assert theirs == ours
    assert [f.text for f in ours.figures] == ["11.000", "300 euro", "91%"]
    # the tokenizer's Dutch fixes survive the round trip too
    assert [t.text for t in loaded("MKB-Nederland/VNO-NCW kreeg € 1,2 mrd. extra.")][:5] == \
        ["MKB-Nederland", "/", "VNO-NCW", "kreeg", "€"]


def test_sentences_respect_dutch_abbreviations_and_paragraphs():
    sentences = [s.text.strip() for s in shared_nlp()(TEXT).sents]
    assert sentences == [
        "Ruim 11.000 ondernemers (o.a. bakkers, bijv. in Utrecht) kregen ca. 300 euro, zegt dat.",
        "De KVK zag in 2023 91% van de mkb’ers groeien.",
        "Zie nr. 5 en art. 3 van de wet.",
    ]


def gold_texts() -> list[str]:
    path = Path(__file__).parent / "fixtures" / "gold_government.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf8").splitlines()]


def test_sentences_are_the_sentencizers_and_line_breaks_end_them():
    """mkb_sentences computes spaCy's sentencizer rule on arrays; on text without line breaks it
    must set exactly the sentencizer's starts, and a line break must end a sentence."""
    nlp = shared_nlp()  # the shared, once-loaded pipeline: this test only reads it
    sentencizer = spacy.blank("nl").add_pipe("sentencizer")
    texts = [text.replace("\n", " ") for text in gold_texts()] + [
        "", ".", ". . Hallo", "Ja!? (Nee.) 'Zo.' dan... Klaar", "Eén zin zonder punt"]
    for text in texts:
        ours, theirs = nlp(text), sentencizer(nlp.make_doc(text))
        assert [t.is_sent_start for t in ours] == [t.is_sent_start for t in theirs], text
    doc = nlp("Kop\nDe tekst begint hier. En gaat door:\n- een punt")
    assert [s.text.strip() for s in doc.sents] == ["Kop", "De tekst begint hier.", "En gaat door:", "- een punt"]


@pytest.mark.slow
def test_batched_components_give_what_one_by_one_gives():
    texts = gold_texts()
    nlp = build()
    batched = [(d._.figures, d._.org_mentions) for d in nlp.pipe(texts, batch_size=7)]
    one_by_one = []
    for text in texts:
        doc = nlp.make_doc(text)
        for _, component in nlp.pipeline:
            doc = component(doc)
        one_by_one.append((doc._.figures, doc._.org_mentions))
    assert batched == one_by_one and any(figures for figures, _ in batched)


@pytest.mark.slow
def test_the_columns_cache_does_not_keep_documents_alive():
    nlp = build()
    docs = [weakref.ref(doc) for doc in nlp.pipe(gold_texts())]
    gc.collect()
    assert not any(ref() is not None for ref in docs)


@pytest.mark.slow
@pytest.mark.parametrize("slots", [WordFacts.SLOTS, 8])  # 8: nearly every word meets another's slot
def test_word_facts_from_the_table_are_those_of_the_dict(monkeypatch, slots):
    monkeypatch.setattr(WordFacts, "SLOTS", slots)
    nlp = build()
    facts = word_facts(nlp)
    for text in gold_texts() * 2:  # the second round reads what the first put in the table
        orths = nlp.make_doc(text).to_array("ORTH")
        assert facts.of(orths).tolist() == [facts.by_word[orth] for orth in orths.tolist()]
    assert 0 < (facts.keys != 0).sum() <= min(slots, len(facts.by_word))  # a word a slot, at most
    facts.by_word.clear()  # as PerWord does at its limit: the table still answers
    orths = nlp.make_doc(gold_texts()[0]).to_array("ORTH")
    assert facts.of(orths).tolist() == [facts.by_word[orth] for orth in orths.tolist()]


def test_curly_apostrophes_keep_words_whole_and_offsets_true():
    doc = shared_nlp()("De mkb’ers en zzp’ers van KVK’s, zo’n 40.")
    assert [t.text for t in doc][:4] == ["De", "mkb’ers", "en", "zzp’ers"]
    assert doc[1].norm_ == "mkb'ers"
    figure = extract(TEXT).figures[2]
    assert TEXT[figure.start:figure.end] == "91%" and figure.subject == "mkb’ers"


def test_extract_many_streams_pairs_and_mappings_in_order():
    items = iter([("Er zijn 5 banen.", None), {"text": "Geen cijfers hier."},
                  {"text": "Het kost € 30 mln.", "published": "2024-01-02"}])
    results = list(extract_many(items, batch_size=2, zone_size=2))
    assert all(isinstance(r, Extraction) for r in results)
    assert [[f.value for f in r.figures] for r in results] == [[5], [], [30_000_000]]


SEEN_DATES = []


@spacy.Language.component("test_published_probe")
def published_probe(doc):
    SEEN_DATES.append(doc._.published)
    return doc


def test_the_document_date_reaches_the_components():
    probing = build()
    probing.add_pipe("test_published_probe", before="mkb_organisations")
    list(extract_many([("tekst", "2020-05-01"), {"text": "tekst"}], nlp=probing))
    assert SEEN_DATES == ["2020-05-01", None]


def test_chunks_cover_the_text_at_breaks():
    text = ("Een zin over 12 bedrijven. " * 40 + "\n\n") * 30
    pieces = list(chunks(text, size=2000))
    assert "".join(piece for _, piece in pieces) == text
    assert all(len(piece) <= 2000 for _, piece in pieces)
    assert all(text[offset:offset + len(piece)] == piece for offset, piece in pieces)
    assert all(piece.endswith("\n\n") for _, piece in pieces[:-1])


def _check(text, extraction):
    for record in (*extraction.figures, *extraction.mentions):
        assert text[record.start:record.end] == record.text


@pytest.mark.slow
def test_a_three_megabyte_document_is_processed_in_pieces():
    paragraph = ("In 2023 kregen ruim 11.000 ondernemers samen € 2,5 mln van de Rijksdienst voor "
                 "Ondernemend Nederland; 91% van de mkb'ers is tevreden.\n\n")
    text = paragraph * (3_000_000 // len(paragraph) + 1)
    assert len(text) > 3_000_000 > CHUNK_CHARS
    [result] = extract_many([(text, None)])
    repeats = text.count(paragraph)
    assert len(result.figures) == 3 * repeats  # every figure found once, none lost at a cut
    assert result.figures[-1].start > 2_990_000
    _check(text, result)


@pytest.mark.slow
def test_a_text_of_only_numbers_finishes():
    text = " ".join(str(n) for n in range(200_000))
    [result] = extract_many([(text, None)])
    _check(text, result)
    assert len(text) > CHUNK_CHARS


@pytest.mark.slow
def test_ten_thousand_capitalised_words_finish():
    words = ["Ministerie", "Kamer", "Van", "Economische", "Zaken", "Nederland", "Comité", "Raad"]
    text = " ".join(words[n % len(words)] + str(n % 7 or "") for n in range(10_000))
    [result] = extract_many([(text, None)])
    _check(text, result)


@pytest.mark.slow
def test_importing_the_records_or_the_package_does_not_load_spacy():
    # The store and every CLI command import models.records; spaCy costs seconds to load.
    code = ("import sys, models.records, monitor.store, models\n"
            "assert models.PIPELINE_VERSION.startswith(models.RULES_VERSION)\n"
            "assert 'spacy' not in sys.modules, 'spacy loaded'\n"
            "assert callable(models.extract) and 'spacy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_the_package_names_are_the_pipeline_functions():
    assert models.pipeline is pipeline_module and models.shared_nlp is pipeline_module.shared_nlp
    assert models.extract_many is pipeline_module.extract_many
    with pytest.raises(AttributeError):
        models.no_such_name  # noqa: B018


def test_the_version_changes_with_the_data_files(tmp_path, monkeypatch):
    version = models.version()
    assert re.fullmatch(re.escape(models.RULES_VERSION) + r"\+[0-9a-f]{8}", version)
    for path in models.DATA.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(models, "DATA", tmp_path)
    models.version.cache_clear()
    try:
        assert models.version() == version  # the same files, the same version
        models.version.cache_clear()
        with (tmp_path / "organisations_curated.jsonl").open("a", encoding="utf-8") as f:
            f.write('{"id": "org:new", "name": "Nieuw", "kind": "company"}\n')
        assert models.version() != version  # a gazetteer line more: stored extractions are stale
    finally:
        models.version.cache_clear()


def test_the_tokenizer_leaves_the_text_it_tokenised():
    text = "Een tweetal\nmoties van de Kamer."
    doc = shared_nlp()(text)
    assert doc_text(doc) == doc.text != text  # the wrapped line joined
    assert doc_text(spacy.blank("nl")(text)) == text


@pytest.mark.slow
def test_the_vocabulary_keeps_words_only_while_warm(monkeypatch):
    texts = [(f"Bedrijf{n} en Stichting Woord{n} kregen {n} euro.", None) for n in range(40)]
    nlp = build()
    monkeypatch.setattr(pipeline_module, "WARM_WORDS", 0)  # every group in a memory zone
    assert len(list(extract_many(texts, nlp=nlp, zone_size=8))) == 40
    assert "Woord7" not in nlp.vocab and "Woord7" not in nlp.vocab.strings  # released
    monkeypatch.setattr(pipeline_module, "WARM_WORDS", 10_000)  # room: the words stay, cached
    list(extract_many(texts, nlp=nlp, zone_size=8))
    assert "Woord7" in nlp.vocab and "Woord39" in nlp.vocab.strings


def test_word_facts_are_cached_by_hash_and_bounded():
    store = spacy.blank("nl").vocab.strings
    lengths = PerWord(store, len, limit=2)
    keys = [store.add(word) for word in ("een", "twee", "drie")]
    assert [lengths[k] for k in keys] == [3, 4, 4]
    assert len(lengths) <= 2
