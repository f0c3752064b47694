"""Organisation mentions: find them, link them to the gazetteer, resolve short forms.

The spaCy component ``mkb_organisations`` sets ``doc._.org_mentions`` to a list of
``models.records.Mention`` (character offsets into ``doc.text``). It works in five passes, each
cheap, and keeps the longest non-overlapping candidates in order of trust:

1. gazetteer aliases with a ``PhraseMatcher`` on LOWER, then a case check per alias: an acronym
   or one-word name must be written as in the gazetteer ("KVK", "KvK"; "Katapult", not
   "katapult"), a longer name must hold a capital ("de Kamer van Koophandel", not "de kamer");
2. names glued into a compound token ("PVV-fractie", "EZK-minister", "CBS-cijfers", "KVK's");
3. acronyms defined in brackets ("Digitale Werkplaats Fryslân (DWF)"): the acronym becomes a
   name for the rest of the document, linked where the long form is known;
4. names outside the gazetteer: capitalised runs with an organisation head word before any
   "van"/"voor" ("Stichting ...", "Digitale Werkplaats Fryslân", "... B.V."), capitalised
   compounds on a head ("Industriecoalitie"), names after a noun that says what they are
   ("techbedrijf Bird"), and every later occurrence of such a name; their id is None and
   ``unknown_organisations`` lists them for review;
5. capitalised short forms after a determiner ("het Comité", "uw Kamer", "het Ministerie"),
   resolved to the latest organisation of that kind named earlier in the document; "de Kamer"
   with no chamber named before is the Tweede Kamer.

Canonical names follow the document date (``doc._.published``, set by the pipeline): the same
lineage is "Ministerie van Economische Zaken en Klimaat" in 2020 and "Ministerie van Economische
Zaken" in 2025. Passes 2 to 5 only look at tokens with a capital letter, and read the facts
they test (a head word, a connector, ...) as bits computed once per word type, with the token
offsets from one array read (models/columns.py), never from Token objects.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy
from spacy.attrs import IS_DIGIT, IS_LOWER, IS_PUNCT, IS_SPACE, IS_TITLE
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token

from models.columns import Columns, read, word_facts
from models.component import BatchedComponent
from models.gazetteer import Gazetteer, Organisation, load, normalise
from models.records import Mention

TWEEDE_KAMER = "org:tweede-kamer-der-staten-generaal"

# Capitalised compounds with a head suffix that name a kind of body, not one body.
GENERIC_BODIES = frozenset({"ministerraad", "gemeenteraad", "staatsraad",
                            "ondernemingsraad", "medezeggenschapsraad", "raad"})
# Words that make a capitalised run an organisation's name (pass 4), standing before any
# "van"/"voor" in it.
HEAD_WORDS = frozenset({"stichting", "vereniging", "coöperatie", "cooperatie", "universiteit",
                        "hogeschool", "academie", "raad", "autoriteit", "agentschap", "bank",
                        "instituut", "comité", "comite", "federatie", "fonds", "platform",
                        "bureau", "dienst", "centrum", "commissie", "college", "inspectie",
                        "ministerie", "rijksdienst", "genootschap", "bond", "unie", "maatschappij",
                        "groep", "holding", "partij", "omroep", "kamer", "werkplaats",
                        "werkplaatsen", "koninklijke", "foundation", "association", "institute",
                        "university", "academy", "agency", "authority", "council", "centre",
                        "center", "alliance", "coalition", "network"})
# Compounds ending in a head word name organisations too ("Industriebank", "Metaalunie").
HEAD_SUFFIXES = ("bank", "raad", "fonds", "instituut", "werkplaats", "werkplaatsen", "academie",
                 "autoriteit", "dienst", "bureau", "coalitie", "federatie", "college", "comité",
                 "unie", "bond", "vereniging", "maatschappij")
LEGAL_FORMS = frozenset({"B.V.", "BV", "N.V.", "NV", "U.A.", "Holding", "Group", "Groep"})
# Small words inside a name ("Raad voor de Rechtspraak", "Kamer van Koophandel").
CONNECTORS = frozenset({"van", "voor", "de", "der", "den", "het", "en", "op", "in", "&", "of",
                        "for", "and", "the"})  # "en" only trims; it never joins (capitalised_runs)
# Nouns after which a capitalised word names an organisation ("techbedrijf Bird").
APPOSITION = re.compile(
    r"(bedrijf|bedrijven|bank|platform|verstrekker|leverancier|aanbieder|organisatie|vereniging|"
    r"bureau|webwinkel|webshop|winkelketen|supermarktketen|keten|fabrikant|concern|retailer|"
    r"dienstverlener|koepel|startup|start-up|scale-up|branchevereniging|brancheorganisatie|"
    r"zorgverzekeraar|verzekeraar|uitgever|omroep|accountantskantoor|kantoor|fonds|instelling|"
    r"investeerder|financier|netwerk)$")
DETERMINERS = frozenset({"het", "de", "een", "uw", "dit", "deze", "die", "onze", "ons", "hun",
                         "zijn", "haar"})
# A capitalised head after a determiner refers back to an organisation named before it.
SHORT_FORMS = frozenset({"Comité", "Kamer", "Ministerie", "Raad", "Autoriteit", "Agentschap",
                         "Bank", "Stichting", "Vereniging", "Hogeschool", "Universiteit",
                         "Werkplaats", "Dienst", "Inspectie", "Commissie", "Federatie", "Bureau",
                         "Fonds", "Platform", "Centrum", "Instituut", "Rijksdienst", "Senaat"})
OFFICES = frozenset({"minister", "ministers", "ministerie", "staatssecretaris",
                     "staatssecretarissen", "bewindspersoon", "bewindspersonen"})
PLACES = frozenset({"Nederland", "Europa", "Den Haag", "Brussel", "Randstad", "Holland",
                    "Friesland", "Brabant", "Limburg", "Duitsland", "België", "Frankrijk"})
# Acronyms that are Dutch words too: in a heading in capitals they are the word.
WORDS_IN_CAPITALS = frozenset({"OM", "ZIN", "RUG", "BOM", "SAP", "DUO", "ROM", "NOM", "EC", "AP",
                               "NS", "HAN", "DENK"})
BRANCHING_KINDS = frozenset({"company", "bank", "research", "media"})
BRANCH_SUFFIX = re.compile(r" Nederland\b")
GLUE = re.compile(r"[-‐‑/'’]")
ACRONYM = re.compile(r"^[A-Z][A-Za-z0-9&]{1,9}$")

# The word tests the passes make, as bits of one number per word type (Columns.masks).
(LOWER, DIGIT, PUNCT, SPACE, TITLE, NAME_WORD, HEAD, CONNECTOR, DETERMINER, APPOSITION_NOUN, VAN_VOOR,
 GLUED_WORD, OFFICE_NAME, ACRONYM_WORD, SHORT_FORM, CONNECTOR_WORD) = (1 << k for k in range(16))
NO_CAPITAL = LOWER | DIGIT | PUNCT | SPACE

# Trust order when candidates overlap at equal length.
GAZETTEER, GLUED, DEFINED, UNKNOWN, SHORT = range(5)


@dataclass(frozen=True)
class Candidate:
    start: int  # character offsets
    end: int
    org: Organisation | None
    canonical: str | None  # for organisations outside the gazetteer
    rule: int


def in_capitals(span: Span) -> bool:
    """Whether the words around a span are written in capitals too, as in a heading."""
    doc = span.doc
    around = [doc[i] for i in (span.start - 1, span.end) if 0 <= i < len(doc)]
    return any(t.is_upper and t.is_alpha and len(t) > 1 for t in around)


@lru_cache(maxsize=16_384)  # a few thousand (written, alias) pairs recur over a corpus
def case_matches(written: str, alias: str) -> bool:
    """An acronym or one-word name as in the gazetteer (or all capitals, as in a heading). A
    longer name all in capitals, or with a capital wherever the alias has one after its first
    word: "ministerie van Economische Zaken" is the ministry, "Digitale werkplaatsen" is not."""
    if " " not in alias:
        return written == alias or (len(alias) > 3 and written == alias.upper())
    if written.isupper():
        return True
    pairs = list(zip(written.split(), alias.split()))
    return len(pairs) > 1 and all(w[:1].isupper() or not a[:1].isupper() for w, a in pairs[1:])


def sentence_starts(columns: OrgColumns) -> list[int]:
    """Character offsets where sentences start: the pipeline's sentences, or else a cut after
    every ".", "!", "?" and line break."""
    if columns.doc.has_annotation("SENT_START"):  # as Doc.sents reads them, without the Spans
        return [0, *(columns.idx[i] for i in columns.sentence_starts[1:])]
    return [0, *(m.end() for m in re.finditer(r"[.!?]\s+|\n", columns.text))]


def sentence_of(text: str, starts: list[int], position: int) -> str:
    i = bisect_right(starts, position)
    end = starts[i] if i < len(starts) else len(text)
    return text[starts[i - 1]:end].strip()


class OrgColumns(Columns):
    """The Doc's shared columns (models/columns.py) with this component's word bits as a list,
    and the tokens that may hold a capital (not lower case, digits, punctuation or space)."""

    def __init__(self, shared: Columns, shift: int, width: int) -> None:
        self.opens_sentence = set(shared.sentence_starts).__contains__  # read before the copy below
        vars(self).update(vars(shared))  # the same lists, not copies
        bits = shared.bits(shift, width)
        self.masks: list[int] = bits.tolist()
        self.caps: list[int] = numpy.flatnonzero(bits & NO_CAPITAL == 0).tolist()

    def caps_with(self, bit: int) -> list[int]:
        masks = self.masks
        return [i for i in self.caps if masks[i] & bit]


class OrganisationRecogniser(BatchedComponent):
    """The ``mkb_organisations`` component. See the module docstring for the passes."""

    def __init__(self, nlp: Language, name: str = "mkb_organisations",
                 gazetteer: Gazetteer | None = None) -> None:
        self.name = name
        self.gazetteer = gazetteer or load()
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.by_lower: dict[str, list[tuple[str, Organisation]]] = {}
        for alias, org in self.gazetteer.aliases():
            self.by_lower.setdefault(alias.lower(), []).append((alias, org))
        for key in list(self.by_lower):
            # "Economische Zaken & Klimaat" is written as often as "... en Klimaat".
            if " en " in key:
                self.by_lower.setdefault(key.replace(" en ", " & "), self.by_lower[key])
        for key, pattern in zip(self.by_lower, nlp.tokenizer.pipe(self.by_lower)):
            self.matcher.add(key, [pattern])
        self.office_names = {short: org for org in self.gazetteer if org.kind == "ministry"
                             for short in org.refs.get("short_names", ()) if " " not in short}
        # "kantoor Amsterdam", "bedrijven Nederland": a place after a noun is no organisation.
        self.places = PLACES | {org.name.partition(" ")[2] for org in self.gazetteer
                                if org.kind in ("municipality", "province")}
        if not Doc.has_extension("org_mentions"):
            Doc.set_extension("org_mentions", default=None)
        # The word tests, in the order of their bits; a word's answers are computed once, the
        # first time it is seen. A lexeme's lower form is its text lower-cased.
        getters = nlp.vocab.lex_attr_getters
        tests = [getters[IS_LOWER], getters[IS_DIGIT], getters[IS_PUNCT], getters[IS_SPACE], getters[IS_TITLE],
                 name_word, head_word,
                 lambda word: getters[IS_LOWER](word) and word.lower() in CONNECTORS,
                 lambda word: word.lower() in DETERMINERS,
                 lambda word: APPOSITION.search(word.lower()) is not None,
                 lambda word: word.lower() in ("van", "voor"),
                 lambda word: GLUE.search(word) is not None,
                 lambda word: word in self.office_names,
                 lambda word: bool(ACRONYM.match(word)) and sum(c.isupper() for c in word) >= 2,
                 lambda word: word in SHORT_FORMS,
                 lambda word: word.lower() in CONNECTORS]  # in any case: "Van", "De"
        self.facts = word_facts(nlp)
        self.shift, self.width = self.facts.add(tests), len(tests)

    def __call__(self, doc: Doc) -> Doc:
        doc._.org_mentions = list(self.mentions(doc))
        return doc

    # -- passes ---------------------------------------------------------------------------

    def mentions(self, doc: Doc) -> Iterator[Mention]:
        published = doc._.published if Doc.has_extension("published") else None
        local: dict[str, Candidate] = {}  # acronyms defined in this document
        columns = OrgColumns(read(doc, self.facts), self.shift, self.width)
        text = columns.text
        found = [*self.gazetteer_matches(columns), *self.glued(columns), *self.office_names_after_van(columns)]
        found += self.national_branches(text, found)
        found += self.bracket_definitions(columns, found, local)
        found += self.local_acronyms(columns, local)
        known = Occupied((c.start, c.end) for c in found)
        # A name outside the gazetteer may start with a known one ("Digitale Werkplaats
        # Fryslân"), but never swallows one from the left ("De Kamer van Koophandel").
        found += [c for c in self.unknown(columns)
                  if all(s == c.start and extends_name(text[e:c.end])
                         for s, e in known.overlapping(c.start, c.end))]
        chosen = select(found)
        chosen = select([*chosen, *repeated_unknowns(text, chosen)])
        chosen = select([*chosen, *self.short_forms(columns, chosen)])
        starts = sentence_starts(columns) if chosen else []
        for c in sorted(chosen, key=lambda c: c.start):
            if c.org is not None:
                canonical = c.org.name_on(published, text[c.start:c.end])
            else:
                canonical = c.canonical or text[c.start:c.end]
            yield Mention(start=c.start, end=c.end, text=text[c.start:c.end],
                          canonical=canonical, id=c.org.id if c.org else None,
                          kind=c.org.kind if c.org else None,
                          sentence=sentence_of(text, starts, c.start))

    def gazetteer_matches(self, columns: OrgColumns) -> Iterator[Candidate]:
        doc = columns.doc
        for key, start, end in self.matcher(doc):
            start_char, end_char = columns.idx[start], columns.end_char(end - 1)
            written = columns.text[start_char:end_char]
            candidates = self.by_lower[doc.vocab.strings[key]]
            if written in WORDS_IN_CAPITALS and in_capitals(doc[start:end]):
                continue  # "KANSEN OM TE GROEIEN" is a heading, not the Openbaar Ministerie
            for alias, org in candidates:
                if case_matches(written, alias.replace(" en ", " & ") if "&" in written else alias):
                    if org.kind == "ministry" and start >= 2 and columns.lower(start - 1) == "van" \
                            and columns.lower(start - 2) == "ministerie":
                        start_char = columns.idx[start - 2]  # "ministerie van EZK" is the ministry's name
                    yield Candidate(start_char, end_char, org, None, GAZETTEER)
                    break

    @staticmethod
    def national_branches(text: str, found: list[Candidate]) -> Iterator[Candidate]:
        """ "Cisco Nederland" is the company's Dutch branch: an organisation of its own name."""
        for c in found:
            if c.org is not None and c.org.kind in BRANCHING_KINDS \
                    and (branch := BRANCH_SUFFIX.match(text, c.end)):
                yield Candidate(c.start, branch.end(), None, None, GLUED)

    def glued(self, columns: OrgColumns) -> Iterator[Candidate]:
        """An alias at the start of a compound token: "PVV-fractie", "GroenLinks-PvdA-fractie",
        "KVK's", "MKB-Nederland/VNO-NCW" (both)."""
        for i in columns.caps_with(GLUED_WORD):
            text = columns.word(i)
            for segment_start, segment in segments(text):
                cuts = [m.start() for m in GLUE.finditer(segment)]
                if len(segment) < len(text):
                    cuts.append(len(segment))  # "MKB-Nederland" in "MKB-Nederland/VNO-NCW"
                for cut in sorted(cuts, reverse=True):
                    org = self.alias_exact(segment[:cut])
                    if org is not None:
                        start = columns.idx[i] + segment_start
                        yield Candidate(start, start + cut, org, None, GLUED)
                        break

    def alias_exact(self, text: str) -> Organisation | None:
        for alias, org in self.by_lower.get(text.lower(), ()):
            if case_matches(text, alias):
                return org
        return None

    def office_names_after_van(self, columns: OrgColumns) -> Iterator[Candidate]:
        """One-word ministry names are ordinary words too ("Defensie", "Financiën"): only after
        "minister van", "ministerie van", "staatssecretaris van" are they the ministry."""
        for i in columns.caps_with(OFFICE_NAME):
            org = self.office_names[columns.word(i)]
            if i >= 2 and columns.lower(i - 1) == "van" and columns.lower(i - 2) in OFFICES:
                yield Candidate(columns.idx[i], columns.end_char(i), org, None, GAZETTEER)

    def bracket_definitions(self, columns: OrgColumns, found: list[Candidate],
                            local: dict[str, Candidate]) -> list[Candidate]:
        """ "Long Form (ACR)": ACR names the long form's organisation in the rest of the text."""
        ends = {c.end: c for c in found}
        new = []
        for i in columns.caps_with(ACRONYM_WORD):
            if not (0 < i < columns.n - 1 and columns.word(i - 1) == "(" and columns.word(i + 1) == ")"):
                continue
            acronym, bracket = columns.word(i), columns.idx[i - 1]
            previous = ends.get(bracket - 1) or ends.get(bracket)
            if previous is not None:
                local.setdefault(acronym, previous)
                continue
            long_form = defined_long_form(columns.doc[:i - 1], acronym)
            if long_form is not None:
                candidate = Candidate(long_form.start_char, long_form.end_char, None,
                                      long_form.text, DEFINED)
                new.append(candidate)
                local.setdefault(acronym, candidate)
        return new

    def local_acronyms(self, columns: OrgColumns, local: dict[str, Candidate]) -> Iterator[Candidate]:
        if not local:
            return
        for i in columns.caps:
            for segment_start, segment in segments(columns.word(i)):
                head = GLUE.split(segment, maxsplit=1)[0]
                defined = local.get(head)
                if defined is not None and self.alias_exact(head) is None:
                    start = columns.idx[i] + segment_start
                    yield Candidate(start, start + len(head), defined.org, defined.canonical,
                                    DEFINED)

    def unknown(self, columns: OrgColumns) -> Iterator[Candidate]:
        masks, opens_sentence = columns.masks, columns.opens_sentence
        for start, end in capitalised_runs(columns):
            if not any(masks[k] & HEAD for k in range(start, end)):
                continue  # without a head word or a legal form, a run is no name (below)
            if opens_sentence(start) and not masks[start] & HEAD and end - start > 1:
                start += 1  # "Zoals de Rabobank": a capital that only opens the sentence
            while start < end and masks[start] & CONNECTOR_WORD:
                start += 1
            if start == end:
                continue
            words = sum(1 for k in range(start, end) if not masks[k] & CONNECTOR_WORD)
            # The head stands before any "van"/"voor": "Kamer van Koophandel", "Vereniging van
            # Banken"; in "Douanewetboek van de Unie" it only names what the law belongs to.
            lead = next((k for k in range(start, end) if masks[k] & CONNECTOR_WORD), end)
            if words >= 2 and (any(masks[k] & HEAD for k in range(start, lead))
                               or columns.word(end - 1) in LEGAL_FORMS):
                yield self.unknown_name(columns, start, end)
            elif (end - start == 1 and not opens_sentence(start) and masks[start] & HEAD
                  and columns.lower(start) not in HEAD_WORDS and columns.lower(start) not in GENERIC_BODIES):
                # Mid-sentence, only names are capitalised: "(Industriecoalitie)".
                yield self.unknown_name(columns, start, end)
        for i in columns.caps:
            if (not masks[i] & TITLE or opens_sentence(i) or masks[i] & DETERMINER
                    or not follows_apposition(columns, i)):
                continue
            end = i + 1
            while end < columns.n and masks[end] & TITLE and end - i < 3:
                end += 1
            candidate = self.unknown_name(columns, i, end)
            if candidate.canonical not in self.places:
                yield candidate

    @staticmethod
    def unknown_name(columns: OrgColumns, start: int, end: int) -> Candidate:
        """Tokens start to end as the name of an organisation outside the gazetteer."""
        start_char, end_char = columns.idx[start], columns.end_char(end - 1)
        return Candidate(start_char, end_char, None, columns.text[start_char:end_char], UNKNOWN)

    def short_forms(self, columns: OrgColumns, chosen: list[Candidate]) -> Iterator[Candidate]:
        taken = Occupied((c.start, c.end) for c in chosen)
        by_end = sorted(chosen, key=lambda c: c.end)
        ends = [c.end for c in by_end]
        for i in columns.caps_with(SHORT_FORM):
            if i == 0 or not columns.masks[i - 1] & DETERMINER:
                continue
            start, end = columns.idx[i], columns.end_char(i)
            if taken.overlaps(start, end):
                continue
            earlier = by_end[:bisect_right(ends, start)]
            referent = resolve_short_form(columns.word(i), earlier, self.gazetteer)
            if referent is not None:
                yield Candidate(start, end, referent.org, referent.canonical, SHORT)


def follows_apposition(columns: OrgColumns, i: int) -> bool:
    """Whether a noun that says what the name is stands right before token i ("techbedrijf
    Bird"), or before a short "voor"/"van" phrase ("kennisplatform voor e-commerce Twinkle")."""
    masks = columns.masks
    if i >= 1 and masks[i - 1] & APPOSITION_NOUN:
        return True
    for j in range(i - 1, max(i - 5, 0), -1):
        if masks[j] & VAN_VOOR:
            return bool(masks[j - 1] & APPOSITION_NOUN)
        if not masks[j] & LOWER:
            return False
    return False


def extends_name(tail: str) -> bool:
    """Capitalised words only, as in "Digitale Werkplaats| Fryslân"."""
    words = tail.split()
    return bool(words) and all(w[:1].isupper() for w in words)


def repeated_unknowns(text: str, chosen: list[Candidate]) -> Iterator[Candidate]:
    """A name found once outside the gazetteer ("techbedrijf Bird") names the same organisation
    wherever the document repeats it."""
    names = {c.canonical for c in chosen if c.org is None and c.canonical}
    if not names:
        return
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    for match in re.finditer(rf"(?<!\w)(?:{alternatives})(?!\w)", text):
        yield Candidate(match.start(), match.end(), None, match.group(), UNKNOWN)


def segments(text: str) -> Iterator[tuple[int, str]]:
    """The parts of a token between slashes, with their offsets."""
    offset = 0
    for part in text.split("/"):
        yield offset, part
        offset += len(part) + 1


def capitalised_runs(columns: OrgColumns) -> Iterator[tuple[int, int]]:
    """(start, end) token ranges of maximal runs of title-case words, joined by connectors
    ("Raad voor de Rechtspraak")."""
    n, masks = columns.n, columns.masks
    after = 0  # the end of the last run: runs do not overlap
    for i in columns.caps:
        if i < after or not masks[i] & NAME_WORD:
            continue
        end = i + 1
        while end < n:
            if masks[end] & NAME_WORD:
                end += 1
                continue
            j = end
            while j < n and masks[j] & CONNECTOR:
                j += 1
            # "Bird en Stichting X", "Kamer van Koophandel en het Ondernemersplein": two names.
            if j > end and j < n and masks[j] & NAME_WORD and columns.word(end) != "en":
                end = j
                continue
            break
        yield i, end
        after = end


def name_word(text: str) -> bool:
    return (text.isalpha() or "-" in text or "." in text) and text[:1].isupper() and (
        not text.isupper() or len(text) <= 5)


def is_name_word(token: Token) -> bool:
    return name_word(token.text)


def defined_long_form(before: Span, acronym: str) -> Span | None:
    """The words before "(ACR)" whose initials spell the acronym (Schwartz and Hearst, 2003):
    "Digitale Werkplaats Fryslân (DWF)", "Albert Heijn (AH)"."""
    words: list[Token] = []
    for token in reversed(before):
        if is_name_word(token) or (token.lower_ in CONNECTORS and token.is_lower):
            words.insert(0, token)
            if len(words) > len(acronym) + 3:
                break
        else:
            break
    initials = acronym.lower()
    while words and (words[0].lower_ in CONNECTORS or words[0].lower_[0] != initials[0]):
        words.pop(0)
    if len(words) < 2 or not spells(initials, [w.lower_ for w in words]):
        return None
    if not any(is_head(w) for w in words):  # "Net Promoter Score (NPS)" is no organisation
        return None
    return before.doc[words[0].i:words[-1].i + 1]


def head_word(text: str) -> bool:
    lower = text.lower()
    last_part = text.rsplit("-", 1)[-1]  # "ICT-dienst" is a service, not a Dienst
    return (lower in HEAD_WORDS or text in LEGAL_FORMS
            or (last_part[:1].isupper() and lower.endswith(HEAD_SUFFIXES)))


def is_head(token: Token) -> bool:
    return head_word(token.text)


def spells(initials: str, words: list[str]) -> bool:
    """Every letter of the acronym starts or sits in a word, in order, from the first word."""
    text = " ".join(words)
    position = 0
    for letter in initials:
        position = text.find(letter, position)
        if position == -1:
            return False
        position += 1
    return True


def resolve_short_form(head: str, earlier: list[Candidate], gazetteer: Gazetteer) -> Candidate | None:
    wanted = normalise(head)
    for candidate in reversed(earlier):
        org = candidate.org
        if head in ("Kamer", "Senaat") and org is not None and org.kind == "chamber":
            return candidate
        if head == "Ministerie" and org is not None and org.kind == "ministry":
            return candidate
        name = org.name if org is not None else candidate.canonical or ""
        if wanted in normalise(name).split():
            return candidate
    if head == "Kamer":
        return Candidate(0, 0, gazetteer.get(TWEEDE_KAMER), None, SHORT)
    return None


def select(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The longest non-overlapping candidates; at equal length the most trusted."""
    chosen: list[Candidate] = []
    taken = Occupied()
    for c in sorted(candidates, key=lambda c: (c.start - c.end, c.rule, c.start)):
        if c.end > c.start and not taken.overlaps(c.start, c.end):
            taken.add(c.start, c.end)
            chosen.append(c)
    return chosen


class Occupied:
    """Character ranges already taken, kept sorted so an overlap test is a bisection."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.longest = 0
        for start, end in sorted(ranges):
            self.add(start, end)

    def add(self, start: int, end: int) -> None:
        i = bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        self.longest = max(self.longest, end - start)

    def overlapping(self, start: int, end: int) -> list[tuple[int, int]]:
        """The taken ranges that overlap [start, end): looking back from the last range that
        starts before `end`, no further than the longest range can reach."""
        i = bisect_right(self.starts, end - 1)
        found = []
        while i > 0 and self.starts[i - 1] + self.longest > start:
            i -= 1
            if self.ends[i] > start:
                found.append((self.starts[i], self.ends[i]))
        return found

    def overlaps(self, start: int, end: int) -> bool:
        return bool(self.overlapping(start, end))


def unknown_organisations(mentions: Iterable[Mention]) -> list[tuple[str, int]]:
    """Organisations found outside the gazetteer, for review: (canonical name, mentions),
    most mentioned first."""
    counts: dict[str, int] = {}
    for m in mentions:
        if m.id is None:
            counts[m.canonical] = counts.get(m.canonical, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@Language.factory("mkb_organisations")
def make_organisation_recogniser(nlp: Language, name: str) -> OrganisationRecogniser:
    return OrganisationRecogniser(nlp, name)
