"""Finding a quote in a source text and anchoring it there.

Matching forgives typographic differences only: straight vs curly quotation marks and
apostrophes, runs of whitespace, Unicode compatibility forms and invisible format characters.
Whatever matched, the anchor holds the exact characters of the source, so
`text[anchor.start:anchor.end] == anchor.exact` always holds.
"""

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz

from app.errors import AmbiguousQuote, QuoteNotFound

CONTEXT_CHARS = 32
# Above this many character comparisons the closest-passage search would take seconds.
_FUZZY_BUDGET = 200_000_000

_TYPOGRAPHIC = {
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e\uff02", '"'),
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u0060\u00b4\uff07", "'"),
}


@dataclass(frozen=True)
class NormalizedText:
    """Text in matching form, and where in the source text each of its characters came from.

    The matching form is a sequence of pieces: a stretch copied one for one (its k-th character
    came from the k-th character after the piece's origin), or one source character's expansion
    into several (all of them came from it). Runs of text make few pieces, not a list entry per
    character: a long source is normalized once and then searched for many quotes.
    """

    chars: str
    piece_starts: list[int]  # where each piece begins in `chars`
    piece_origins: list[int]  # the source offset its first character came from
    piece_expanded: list[bool]  # one character's expansion, not a one-for-one stretch

    def _piece(self, index: int) -> int:
        return bisect_right(self.piece_starts, index) - 1

    def _piece_end(self, piece: int) -> int:
        return self.piece_starts[piece + 1] if piece + 1 < len(self.piece_starts) else len(self.chars)

    def origin(self, index: int) -> int:
        """The source offset the character at `index` came from."""
        piece = self._piece(index)
        offset = 0 if self.piece_expanded[piece] else index - self.piece_starts[piece]
        return self.piece_origins[piece] + offset

    def whole_chars(self, first: int, last: int) -> bool:
        """Whether chars[first:last + 1] begins and ends on whole source characters, not on part of
        one's expansion (half of a decomposed "é")."""
        first_piece, last_piece = self._piece(first), self._piece(last)
        starts = not self.piece_expanded[first_piece] or first == self.piece_starts[first_piece]
        ends = not self.piece_expanded[last_piece] or last == self._piece_end(last_piece) - 1
        return starts and ends

    def index_from(self, original: int) -> int:
        """The first index whose character came from source offset `original` or after it."""
        piece = bisect_right(self.piece_origins, original) - 1
        if piece < 0:
            return 0
        start, end = self.piece_starts[piece], self._piece_end(piece)
        offset = original - self.piece_origins[piece]
        if self.piece_expanded[piece]:
            return start if offset == 0 else end
        return start + offset if offset < end - start else end


class _Pieces:
    """Builds a NormalizedText piece by piece."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.origins: list[int] = []
        self.expanded: list[bool] = []
        self.length = 0

    def add(self, part: str, origin: int, *, expanded: bool = False) -> None:
        self.parts.append(part)
        self.starts.append(self.length)
        self.origins.append(origin)
        self.expanded.append(expanded)
        self.length += len(part)


def _expansion(char: str) -> list[str]:
    """What one visible character matches as: its compatibility decomposition, typographic quotation
    marks and apostrophes made straight."""
    return [_TYPOGRAPHIC.get(part, part) for part in unicodedata.normalize("NFKD", _TYPOGRAPHIC.get(char, char))]


def _single(char: str) -> str | None:
    """The one character `char` matches as, if it matches as one (not whitespace, not invisible)."""
    if char.isspace() or unicodedata.category(char) == "Cf":
        return None
    expansion = _expansion(char)
    return expansion[0] if len(expansion) == 1 else None


# Latin, Greek and Cyrillic letters, digits and punctuation that match as one character each
# (straight for curly quotation marks, the rest as they are), with a single space, tab or line
# break between words (one space where it matches): most of a text. Such runs are matched with one
# translation, the rest character by character.
_SINGLES = {
    char: single
    for code in (*range(0x21, 0x7F), *range(0xA0, 0x250), *range(0x370, 0x530), *range(0x2010, 0x2060))
    if (single := _single(char := chr(code))) is not None
}
_RUN_CHARS = "".join(re.escape(char) for char in _SINGLES)
_LONE_SPACES = " \t\n\r\x0b\x0c"
_PLAIN_RUN = re.compile(f"[{_RUN_CHARS}]+(?:[{re.escape(_LONE_SPACES)}][{_RUN_CHARS}]+)*")
# Those that match as another character: few, so replaced where found rather than by str.translate,
# which looks every character of a non-ASCII text up in its table.
_REPLACED = {char: single for char, single in _SINGLES.items() if char != single} | dict.fromkeys(_LONE_SPACES[1:], " ")
_TO_REPLACE = re.compile("[" + "".join(re.escape(char) for char in _REPLACED) + "]")


@lru_cache(maxsize=32)  # one source usually receives many quotes in a row
def normalize(text: str) -> NormalizedText:
    pieces = _Pieces()
    in_space = True  # leading whitespace vanishes
    done = 0
    for run in _PLAIN_RUN.finditer(text):
        start, end = run.span()
        in_space = _normalize_chars(text, done, start, in_space, pieces)
        pieces.add(run.group(), start)
        in_space, done = False, end
    _normalize_chars(text, done, len(text), in_space, pieces)
    # One for one, so offsets hold; what the other path made never needs replacing again.
    matching = _TO_REPLACE.sub(lambda found: _REPLACED[found.group()], "".join(pieces.parts))
    return NormalizedText(matching, pieces.starts, pieces.origins, pieces.expanded)


def _normalize_chars(text: str, first: int, last: int, in_space: bool, pieces: _Pieces) -> bool:
    """Adds the matching form of text[first:last], one character at a time; returns whether it
    ended in whitespace."""
    for index in range(first, last):
        char = text[index]
        if char.isspace():
            if not in_space:
                pieces.add(" ", index)
                in_space = True
            continue
        if unicodedata.category(char) == "Cf":  # zero-width spaces, soft hyphens, BOMs
            continue
        expansion = _expansion(char)
        if not expansion:
            continue
        in_space = False
        pieces.add("".join(expansion), index, expanded=len(expansion) > 1)
    return in_space


def matching_form(text: str) -> str:
    return normalize(text).chars.strip()


@dataclass(frozen=True)
class Anchor:
    """A quote's place in a source: W3C TextQuoteSelector + TextPositionSelector."""

    start: int
    end: int
    exact: str
    prefix: str
    suffix: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "prefix": self.prefix, "suffix": self.suffix}


def anchor_at(text: str, start: int, end: int) -> Anchor:
    return Anchor(
        start=start,
        end=end,
        exact=text[start:end],
        prefix=text[max(0, start - CONTEXT_CHARS) : start],
        suffix=text[end : end + CONTEXT_CHARS],
    )


def find_occurrences(text: str, quote: str, normalized: NormalizedText | None = None) -> list[Anchor]:
    """Every place the quote occurs in the text, overlapping ones included, in text order."""
    source = normalized or normalize(text)
    needle = matching_form(quote)
    if not needle:
        return []
    found: list[Anchor] = []
    position = source.chars.find(needle)
    while position != -1:
        last = position + len(needle) - 1
        # A match must cover whole source characters, not half of a decomposed "é".
        if source.whole_chars(position, last):
            found.append(anchor_at(text, source.origin(position), source.origin(last) + 1))
        position = source.chars.find(needle, position + 1)
    return found


def closest_passage(text: str, quote: str, normalized: NormalizedText | None = None) -> dict[str, Any] | None:
    """The passage of the text most similar to the quote, to help an editor fix a typo."""
    source = normalized or normalize(text)
    needle = matching_form(quote)
    if not needle or not source.chars or len(needle) * len(source.chars) > _FUZZY_BUDGET:
        return None
    alignment = fuzz.partial_ratio_alignment(needle, source.chars)
    if alignment is None or alignment.dest_end <= alignment.dest_start:
        return None
    start = source.origin(alignment.dest_start)
    end = source.origin(alignment.dest_end - 1) + 1
    # Widen to whole words: a partial alignment often clips the first or last letters.
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return {"text": text[start:end], "start": start, "end": end, "similarity": round(alignment.score / 100, 3)}


def _ends_with_prefix(source: NormalizedText, anchor: Anchor, wanted: str) -> bool:
    before = source.chars[: source.index_from(anchor.start)].rstrip()
    return before.endswith(wanted)


def locate_quote(
    text: str,
    quote: str,
    *,
    source_id: int,
    start: int | None = None,
    prefix: str | None = None,
) -> Anchor:
    """Anchor a quote in a source text, or raise a problem that tells the editor what to fix.

    `start` or `prefix` choose among several occurrences.
    """
    source = normalize(text)
    occurrences = find_occurrences(text, quote, source)
    if not occurrences:
        closest = closest_passage(text, quote, source)
        hint = f"; closest passage at {closest['start']}–{closest['end']}: “{closest['text']}”" if closest else ""
        raise QuoteNotFound(f"The quote does not occur in source {source_id}{hint}", closest_passage=closest)
    candidates = occurrences
    if start is not None:
        candidates = [anchor for anchor in candidates if anchor.start == start]
    if prefix is not None:
        wanted = matching_form(prefix)
        candidates = [anchor for anchor in candidates if _ends_with_prefix(source, anchor, wanted)]
    if len(candidates) == 1:
        return candidates[0]
    listed = [anchor.as_dict() for anchor in occurrences]
    if not candidates:
        raise AmbiguousQuote(
            f"The quote occurs {len(occurrences)} time(s) in source {source_id}, but none matches the given "
            "`start`/`prefix`; choose one of `occurrences`.",
            occurrences=listed,
        )
    raise AmbiguousQuote(
        f"The quote occurs {len(occurrences)} times in source {source_id}; pass `start` (or `prefix`) "
        "to choose one of `occurrences`.",
        occurrences=listed,
    )
