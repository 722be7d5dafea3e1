"""The layout of a source text as the candidate rules see it: lines, headings, quotations, sentences.

Every scan here is a single left-to-right pass or a regex without nested repetition, so the cost
grows linearly with the text, whatever quotation marks it holds (balanced or not).
"""

import re
from bisect import bisect_right
from dataclasses import dataclass, field

# A quotation is at most what POST /v1/statements accepts as a quote.
MAX_QUOTE_CHARS = 5_000
# How far the rules read within a sentence around a passage or verb: real sentences are shorter,
# and a text without full stops must not make each passage read everything before it.
REACH = 1_000

_OPENING = "\u201c\u00ab"  # “ «
_CLOSING = "\u201d\u00bb"  # ” »
_STRAIGHT = '"'
_QUOTE_MARK = re.compile('[\u201c\u201d\u00ab\u00bb"]')
_LINE = re.compile(r"[^\r\n]+")
# A sentence ends at . ! ? (and any closing marks) followed by whitespace; whether the next
# sentence really starts there is checked in code, not by backtracking.
# The lookbehind starts a match only at the first mark of a run: without it a long run of dots
# is retried from each of its positions (quadratic).
_SENTENCE_END = re.compile(r"(?<![.!?\u2026])[.!?\u2026]+[\u201d\u2019\"')\]]*\s+")
_TERMINAL = ".!?\u2026:;\u201d\u2019\"')"
_NEXT_SENTENCE_OPENERS = "\u201c\u2018\"'(["
# Abbreviations whose period does not end a sentence ("Gov. Mike Dunleavy", "U.S. officials").
ABBREVIATIONS = frozenset(
    """mr mrs ms dr gov sen rep gen lt col sgt capt cmdr adm maj st prof jr sr no vs etc inc corp co ltd
    jan feb mar apr jun jul aug sep sept oct nov dec mt ft pres amb sec dept rev""".split()
)
_INITIALISM = re.compile(r"(?:[A-Za-z]\.){1,4}[A-Za-z]?\.?$")


@dataclass(frozen=True)
class Quotation:
    """A pair of double quotation marks and the quoted words between them."""

    open: int  # offset of the opening mark
    close: int  # offset of the closing mark
    start: int  # first character of the quoted words
    end: int  # just past the last one; a trailing comma belongs to the reporting sentence


@dataclass
class Layout:
    text: str
    lines: list[tuple[int, int]] = field(default_factory=list)
    heading_lines: set[int] = field(default_factory=set)  # headlines and section headings
    section_headings: list[int] = field(default_factory=list)  # sentence indices of section headings
    quotations: list[Quotation] = field(default_factory=list)
    sentences: list[tuple[int, int]] = field(default_factory=list)
    heading_sentences: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._quote_opens = [quote.open for quote in self.quotations]
        self._sentence_starts = [start for start, _ in self.sentences]
        self._line_starts = [start for start, _ in self.lines]

    def sentence_index(self, offset: int) -> int:
        return max(0, bisect_right(self._sentence_starts, offset) - 1)

    def line_index(self, offset: int) -> int:
        return max(0, bisect_right(self._line_starts, offset) - 1)

    def quotation_at(self, offset: int) -> Quotation | None:
        """The quotation whose marks enclose `offset` (strictly), if any."""
        index = bisect_right(self._quote_opens, offset) - 1
        if index >= 0:
            quote = self.quotations[index]
            if quote.open < offset < quote.close:
                return quote
        return None

    def quotations_between(self, start: int, end: int) -> list[Quotation]:
        first = bisect_right(self._quote_opens, start - 1)
        found = []
        for quote in self.quotations[first:]:
            if quote.open >= end:
                break
            found.append(quote)
        return found

    def in_heading(self, offset: int) -> bool:
        return self.line_index(offset) in self.heading_lines

    def section_heading_before(self, sentence: int) -> int | None:
        """The sentence index of the section heading the sentence stands under, if any."""
        index = bisect_right(self.section_headings, sentence) - 1
        return self.section_headings[index] if index >= 0 else None


def word_count(text: str) -> int:
    return len(text.split())


def _is_headline(line: str) -> bool:
    """The all-capitals headline of another story, pasted into the text."""
    letters = [char for char in line if char.isalpha()]
    return len(letters) >= 6 and sum(char.isupper() for char in letters) >= 0.8 * len(letters)


def _is_section_heading(line: str) -> bool:
    """A section heading of this story: short, with no closing punctuation."""
    stripped = line.rstrip()
    return bool(stripped) and stripped[-1] not in _TERMINAL and word_count(stripped) <= 15


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and text[end - 1] == ",":
        end -= 1
        while end > start and text[end - 1].isspace():
            end -= 1
    return start, end


def _pair_quotation_marks(text: str, line_start: int, line_end: int) -> list[Quotation]:
    """Pairs double quotation marks within one line, in one pass.

    Single marks (‘ ’) are never paired: inside a quotation they belong to it, and ’ is mostly an
    apostrophe. An opening mark while one is open restarts the quotation there (the earlier mark
    was unbalanced); a closing mark with none open is ignored. A straight mark closes when it
    follows a word and opens when it precedes one.
    """
    found: list[Quotation] = []
    opened: int | None = None

    def close_at(position: int) -> None:
        assert opened is not None
        start, end = _trimmed(text, opened + 1, position)
        if start < end and end - start <= MAX_QUOTE_CHARS and any(char.isalpha() for char in text[start:end]):
            found.append(Quotation(open=opened, close=position, start=start, end=end))

    for match in _QUOTE_MARK.finditer(text, line_start, line_end):
        position = match.start()
        mark = match.group()
        if mark in _OPENING:
            opened = position
        elif mark in _CLOSING:
            if opened is not None:
                close_at(position)
                opened = None
        else:
            before = text[position - 1] if position > line_start else " "
            after = text[position + 1] if position + 1 < line_end else " "
            opens_word = (before.isspace() or before in "([{\u2014\u2013-/") and not after.isspace()
            if opened is not None and not opens_word:
                close_at(position)
                opened = None
            elif opens_word:
                opened = position
    return found


def _ends_sentence(text: str, match: re.Match[str], line_end: int) -> bool:
    after = match.end()
    if after >= line_end:
        return True
    following = text[after]
    if following in _NEXT_SENTENCE_OPENERS and after + 1 < line_end:
        following = text[after + 1]
    if not (following.isupper() or following.isdigit()):
        return False
    punctuation = match.group().rstrip()
    if punctuation == ".":
        word_start = match.start()
        while word_start > 0 and not text[word_start - 1].isspace():
            word_start -= 1
        word = text[word_start : match.start()].lstrip("(\u201c\"\u2018'")
        if word.lower() in ABBREVIATIONS or _INITIALISM.fullmatch(word + "."):
            return False
    return True


def lay_out(text: str) -> Layout:
    lines: list[tuple[int, int]] = []
    heading_lines: set[int] = set()
    quotations: list[Quotation] = []
    sentences: list[tuple[int, int]] = []
    heading_sentences: set[int] = set()
    section_headings: list[int] = []
    for line_number, line_match in enumerate(_LINE.finditer(text)):
        start, end = line_match.span()
        lines.append((start, end))
        headline = _is_headline(line_match.group())
        if headline or _is_section_heading(line_match.group()):
            heading_lines.add(line_number)
            heading_sentences.add(len(sentences))
            if not headline:
                section_headings.append(len(sentences))
            sentences.append((start, end))
            continue
        line_quotes = _pair_quotation_marks(text, start, end)
        quotations.extend(line_quotes)
        opens = [quote.open for quote in line_quotes]
        sentence_start = start
        for match in _SENTENCE_END.finditer(text, start, end):
            gap = match.end() - 1  # whitespace after the punctuation
            index = bisect_right(opens, gap) - 1
            if index >= 0 and line_quotes[index].open < gap < line_quotes[index].close:
                continue  # a full stop inside a quotation does not end the reporting sentence
            if not _ends_sentence(text, match, end):
                continue
            sentence_end = match.end()
            sentences.append((sentence_start, sentence_end))
            sentence_start = sentence_end
        if sentence_start < end:
            sentences.append((sentence_start, end))
    return Layout(
        text=text,
        lines=lines,
        heading_lines=heading_lines,
        quotations=quotations,
        sentences=sentences,
        heading_sentences=heading_sentences,
        section_headings=section_headings,
    )
