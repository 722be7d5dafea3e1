"""Quote anchoring without a database: what counts as the same text, and what does not."""

import pytest

from app.errors import AmbiguousQuote, QuoteNotFound
from app.services.quotes import closest_passage, find_occurrences, locate_quote

TEXT = "He said “we won’t   go”\nand left. Café au lait — “we won’t go” again."


def test_straight_quotes_whitespace_runs_and_newlines_match_the_curly_original():
    anchor = locate_quote(TEXT, 'said "we won\'t go" and', source_id=1)
    assert anchor.exact == "said “we won’t   go”\nand"
    assert TEXT[anchor.start : anchor.end] == anchor.exact


def test_unicode_normalization_matches_decomposed_and_composed_forms():
    decomposed = "Cafe\u0301 au lait"
    anchor = locate_quote(TEXT, decomposed, source_id=1)
    assert anchor.exact == "Café au lait"


def test_a_match_never_ends_inside_a_decomposed_character():
    assert find_occurrences("Café", "Cafe") == []


def test_other_differences_are_not_forgiven():
    with pytest.raises(QuoteNotFound):
        locate_quote(TEXT, "He said we won't go", source_id=1)  # dropped quotation mark
    with pytest.raises(QuoteNotFound):
        locate_quote(TEXT, "he said", source_id=1)  # case
    with pytest.raises(QuoteNotFound):
        locate_quote(TEXT, "Café au lait - ", source_id=1)  # hyphen for em dash


def test_repeated_quote_needs_start_or_prefix():
    with pytest.raises(AmbiguousQuote) as raised:
        locate_quote(TEXT, "we won't go", source_id=1)
    occurrences = raised.value.extensions["occurrences"]
    assert [TEXT[o["start"] : o["end"]] for o in occurrences] == ["we won’t   go", "we won’t go"]
    second = occurrences[1]["start"]
    assert locate_quote(TEXT, "we won't go", source_id=1, start=second).start == second
    assert locate_quote(TEXT, "we won't go", source_id=1, prefix='au lait — "').start == second
    with pytest.raises(AmbiguousQuote):
        locate_quote(TEXT, "we won't go", source_id=1, start=second + 1)


def test_context_is_32_characters_each_side():
    text = "a" * 40 + "QUOTE" + "b" * 40
    anchor = locate_quote(text, "QUOTE", source_id=1)
    assert (anchor.prefix, anchor.suffix) == ("a" * 32, "b" * 32)


def test_closest_passage_points_at_the_typo():
    closest = closest_passage(TEXT, "Cafe au lair")
    assert closest is not None
    assert TEXT[closest["start"] : closest["end"]] == closest["text"]
    assert "Café au lait" in closest["text"]


def test_runs_translated_whole_give_what_the_character_by_character_path_gives():
    import random

    from app.services.quotes import NormalizedText, _normalize_chars, normalize

    pieces = [
        *("ab", "Z", "9", "-", ".", "~", "`", "'", '"', "“", "”", "’", "‚", "—", "…", "′"),  # ASCII and punctuation
        *("é", "e\u0301", "ß", "ĳ", "ſ", "ά", "д", "й", "ﬁ", "½", "²", "µ"),  # letters, some decomposed
        *(" ", "  ", "\n", "\t", "\u00a0", "\u2009", "\u200b", "\u00ad", "\u2060"),  # spaces, invisible ones
    ]
    generator = random.Random(20250818)
    for _ in range(5000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randrange(0, 25)))
        chars: list[str] = []
        origin: list[int] = []
        starts: list[bool] = []
        ends: list[bool] = []
        _normalize_chars(text, 0, len(text), True, chars, origin, starts, ends)
        assert normalize(text) == NormalizedText("".join(chars), origin, starts, ends), repr(text)
