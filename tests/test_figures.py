"""The figure component on sentences written for each rule of GUIDELINES.md (not gold texts)."""

import pytest

from models import extract


def only(text):
    figures = extract(text).figures
    assert len(figures) == 1, [f.text for f in figures]
    return figures[0]


@pytest.mark.parametrize("text, span, value, value_max, unit, qualifier, subject", [
    ("Ruim 11.000 ondernemers deden mee.", "11.000", 11000, None, "count", "more_than", "ondernemers"),
    ("Volgens de enquête zegt 91% van de ondernemers dat.", "91%", 91, None, "percent", None, "ondernemers"),
    ("Het kabinet trekt 6 tot 9 miljard euro uit.", "6 tot 9 miljard euro", 6e9, 9e9, "EUR", None, None),
    ("Ongeveer 1,4 miljoen mensen werken er.", "1,4 miljoen", 1.4e6, None, "count", "approx", "mensen"),
    ("De regeling kost € 2,5 mln per jaar.", "€ 2,5 mln", 2.5e6, None, "EUR", None, None),
    ("Het budget is €2,5mln.", "€2,5mln", 2.5e6, None, "EUR", None, None),
    ("Er komen twintig werkplaatsen bij.", "twintig", 20, None, "count", None, "werkplaatsen"),
    ("Het ging om drieëntwintig bedrijven.", "drieëntwintig", 23, None, "count", None, "bedrijven"),
    ("De werkloosheid daalde met 3,5 procentpunt.", "3,5 procentpunt", 3.5, None, "percent", None, None),
    ("De rente steeg 0,5%-punt.", "0,5%-punt", 0.5, None, "percent", None, None),
    ("Bijna 3 op de 10 mkb'ers zegt dat.", "3 op de 10", 0.3, None, "other", "less_than", None),
    ("Zeven van de tien banen zitten in het mkb.", "Zeven van de tien", 0.7, None, "other", None, None),
    ("Een derde van de ondernemers twijfelt.", "Een derde", 1 / 3, None, "other", None, None),
    ("Er kwamen tien keer zoveel brouwerijen bij.", "tien keer", 10, None, "other", None, None),
    ("Het project duurt 10 of 20 weken.", "10 of 20 weken", 10, 20, "duration", None, None),
    ("Micro-ondernemingen (2-10 fte) doen mee.", "2-10", 2, 10, "count", None, "fte"),
    ("Het aantal steeg met -34% in april.", "-34%", -34, None, "percent", None, None),
    ("Bedrijven met ten minste 10 werknemers.", "10", 10, None, "count", "at_least", "werknemers"),
    ("Grootbedrijven (250 of meer) vallen erbuiten.", "250", 250, None, "count", "at_least", None),
    ("Kleine bedrijven tot en met 50 werknemers.", "50", 50, None, "count", "at_most", "werknemers"),
    ("Het aandeel ligt op een kleine 7 procent.", "7 procent", 7, None, "percent", "less_than", None),
    ("Het bereik was zo’n 78.500 bezoekers.", "78.500", 78500, None, "count", "approx", "bezoekers"),
    ("Een internetverbinding van minimaal 30 Megabit/s is nodig.", "30 Megabit/s", 30, None, "other", "at_least", None),
    ("De subsidie bedraagt maximaal EUR 150.000 per aanvrager.", "EUR 150.000", 150000, None, "EUR", "at_most", None),
    ("Het gaat om meer dan een miljoen stuks.", "een miljoen", 1e6, None, "count", "more_than", "stuks"),
    ("De omzet was circa 2.5 miljard.", "2.5 miljard", 2.5e9, None, "EUR", "approx", None),
    ("Er waren 90 van de 450 medewerkers ontslagen.", "90", 90, None, "count", None, None),
    ("Een bedrag van €1.500,- per bedrijf.", "€1.500,-", 1500, None, "EUR", None, None),
    ("Het duurt anderhalf jaar.", "anderhalf jaar", 1.5, None, "duration", None, None),
    ("Het gaat om een half miljoen euro.", "een half miljoen euro", 5e5, None, "EUR", None, None),
    ("Tussen de 10 en 20 procent van de ondernemers.", "10 en 20 procent", 10, 20, "percent", None, "ondernemers"),
    ("Vijf à zes bedrijven doen mee.", "Vijf à zes", 5, 6, "count", None, "bedrijven"),
    ("De omzet groeide met € 1,2 mrd. extra.", "€ 1,2 mrd.", 1.2e9, None, "EUR", None, None),
    ("Het aantal steeg in Q3 van 2024 met 3,2%.", "3,2%", 3.2, None, "percent", None, None),
])
def test_figure_fields(text, span, value, value_max, unit, qualifier, subject):
    figure = next(f for f in extract(text).figures if f.text == span)
    assert text[figure.start:figure.end] == span
    assert figure.value == pytest.approx(value)
    assert (figure.value_max is None) if value_max is None else figure.value_max == pytest.approx(value_max)
    assert figure.unit == unit
    assert figure.qualifier == qualifier
    if subject is not None:
        assert figure.subject == subject
    assert span in figure.sentence


@pytest.mark.parametrize("text", [
    "Op 12 maart 2024 sprak de Kamer erover.",
    "In 2023 en 2024-2025 gebeurde dat, begin 2022 ook.",
    "Vergaderjaar 2024–2025 is begonnen.",
    "De vergadering duurt van 11.10-12.15 uur en start om 17:00.",
    "Zie Kamerstuk 32637, nr. 500 en Kamerstukken II 2019/20, 32 637, nr. 428.",
    "Volgens art. 3.2 lid 1 en artikel 3.24.1 van de wet.",
    "De Tweede Kamer en de eerste kamer spraken in het eerste kwartaal.",
    "Het 2e en 4e kwartaal (Q3) waren zwak.",
    "Bel 088 042 42 42 of kijk bij Economie071.",
    "De 1e ronde van Agenda 2030 en het Jaarbericht 2023.",
    "Het kabinet heeft een plan en een jaar eerder een ander plan.",
    "Dit is één van de drijvende krachten.",
    "Noot 1 bij pijler 1 «Versnellen».",
    "Hij acht het waarschijnlijk dat de COVID-19 crisis voorbij is.",
    "Tientallen bedrijven en duizenden banen; het eerste half jaar.",
    "Industrie 4.0 en Horizon 2020 zijn programma's; om 10 uur in de Top 100.",
])
def test_never_a_figure(text):
    assert extract(text).figures == []


def test_two_numbers_share_a_unit():
    figures = extract("De ICT-sector en de zorg volgen met respectievelijk 32 en 28 procent.").figures
    assert [(f.text, f.value, f.unit) for f in figures] == [("32", 32, "percent"), ("28 procent", 28, "percent")]


def test_subject_named_before_the_figure():
    figure = only("Het aantal faillissementen nam in het eerste halfjaar met 5% toe.")
    assert figure.subject == "faillissementen"


def test_offsets_index_the_text_as_given_with_curly_quotes():
    text = "Van de mkb’ers zegt 16 procent van de zzp’ers ‘ja’."
    figure = only(text)
    assert text[figure.start:figure.end] == "16 procent"
    assert figure.subject == "zzp’ers"


def test_figures_in_hard_wrapped_text():
    text = "Het kabinet voert een tweetal\nmoties van de Kamer uit.\n\nDaarna volgt 1,6 miljoen euro."
    figures = extract(text).figures
    assert [(f.text, f.subject) for f in figures] == [("tweetal", "moties"), ("1,6 miljoen euro", None)]
    assert figures[0].sentence == "Het kabinet voert een tweetal\nmoties van de Kamer uit."


@pytest.mark.parametrize("text", [
    "Zie de antwoorden op de vragen 2 en 3 voor een toelichting.",
    "Het besluit (Staatsblad 2020, 118) regelt dat.",
    "Aanhangsel van de Handelingen\n3235\nVragen van de leden",
])
def test_references_and_lone_numbers_are_not_figures(text):
    assert extract(text).figures == []


def test_currency_sign_separated_by_a_no_break_space():
    figure = only("Bedrijven met een omzet vanaf €\u00a0100.000 doen mee.")
    assert (figure.text, figure.unit, figure.qualifier) == ("€\u00a0100.000", "EUR", "at_least")
