"""Quote anchoring without a database: what counts as the same text, and what does not."""

import random
import unicodedata
from bisect import bisect_left
from typing import Any

import pytest

from app.errors import AmbiguousQuote, QuoteNotFound
from app.services.quotes import (
    NormalizedText,
    closest_passage,
    find_occurrences,
    locate_quote,
    normalize,
)

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


def _as_seen(normalized: NormalizedText, text: str) -> tuple[Any, ...]:
    """What matching reads of a normalized text: its characters, where each came from, which
    stretches begin and end on whole source characters, and where each source offset lands."""
    length = len(normalized.chars)
    return (
        normalized.chars,
        [normalized.origin(index) for index in range(length)],
        [
            normalized.whole_chars(first, last)
            for first in range(length)
            for last in range(first, min(length, first + 3))
        ],
        [normalized.index_from(offset) for offset in range(len(text) + 1)],
    )


def _reference(text: str) -> tuple[Any, ...]:
    """The same, by the rules written out one character at a time: whitespace runs become one space
    (none at the start), format characters vanish, every other character becomes its compatibility
    decomposition with typographic quotation marks and apostrophes made straight."""
    straight = {**dict.fromkeys("“”„‟«»″〝〞＂", '"'), **dict.fromkeys("‘’‚‛′`´＇", "'")}
    chars, origin, starts, ends = [], [], [], []
    in_space = True
    for index, char in enumerate(text):
        if char.isspace():
            if not in_space:
                chars.append(" ")
                origin.append(index)
                starts.append(True)
                ends.append(True)
            in_space = True
        elif unicodedata.category(char) != "Cf":
            parts = [straight.get(part, part) for part in unicodedata.normalize("NFKD", straight.get(char, char))]
            for position, part in enumerate(parts):
                chars.append(part)
                origin.append(index)
                starts.append(position == 0)
                ends.append(position == len(parts) - 1)
            in_space = in_space and not parts
    length = len(chars)
    return (
        "".join(chars),
        origin,
        [starts[first] and ends[last] for first in range(length) for last in range(first, min(length, first + 3))],
        [bisect_left(origin, offset) for offset in range(len(text) + 1)],
    )


def test_runs_taken_whole_read_as_the_rules_read_one_character_at_a_time():
    pieces = [
        *("ab", "Z", "9", "-", ".", "~", "`", "'", '"', "“", "”", "’", "‚", "—", "…", "′"),  # ASCII and punctuation
        *("é", "e\u0301", "ß", "ĳ", "ſ", "ά", "д", "й", "ﬁ", "½", "²", "µ"),  # letters, some decomposed
        *(" ", "  ", "\n", "\t", "\r\n", "\u00a0", "\u2009", "\u200b", "\u00ad", "\u2060"),  # spaces, invisible ones
    ]
    generator = random.Random(20250818)
    for _ in range(3000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randrange(0, 25)))
        assert _as_seen(normalize(text), text) == _reference(text), repr(text)
