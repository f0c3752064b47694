import pytest

from models.numbers import group_value, parse_digits, word_value


@pytest.mark.parametrize("text, value", [
    ("11.000", 11000), ("1,4", 1.4), ("2.109.363", 2109363), ("1.500,-", 1500), ("2.500.000,-", 2500000),
    ("0,5", 0.5), ("3120", 3120), ("-34", -34), ("+20", 20), ("±300", 300), ("27,5", 27.5),
])
def test_dutch_digit_strings(text, value):
    assert parse_digits(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["3.2", "11.10", "3.24.1", "17:00", "1e", "Q3", "2023/24", "abc", ""])
def test_identifiers_and_times_are_not_numbers(text):
    assert parse_digits(text) is None


def test_english_decimal_only_before_a_scale_word():
    assert parse_digits("2.5") is None
    assert parse_digits("2.5", before_scale=True) == 2.5
    # three digits after the dot stay a thousands group
    assert parse_digits("2.500", before_scale=True) == 2500


@pytest.mark.parametrize("word, value", [
    ("twee", 2), ("twintig", 20), ("drieëntwintig", 23), ("eenentwintig", 21), ("vijftien", 15),
    ("negentien", 19), ("honderd", 100), ("driehonderd", 300), ("vijfhonderd", 500),
    ("vijftienhonderd", 1500), ("tweeduizend", 2000), ("elfduizend", 11000),
    ("tweehonderdvijftigduizend", 250000), ("Negen", 9), ("één", 1),
])
def test_number_words(word, value):
    assert word_value(word) == value


@pytest.mark.parametrize("word", ["tweede", "eerste", "tiende", "honderden", "tientallen", "ten", "en", "aantal",
                                  "zevende", "kwartaal"])
def test_ordinals_and_other_words_are_not_cardinals(word):
    assert word_value(word) is None


def test_group_nouns():
    assert group_value("tweetal") == 2
    assert group_value("twintigtal") == 20
    assert group_value("honderdtal") == 100
    assert group_value("aantal") is None
    assert group_value("totaal") is None
