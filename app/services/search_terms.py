"""Words as search sees them: split, folded, stemmed in English and German, and found again in text.

Neither engine's own stemming serves both languages (FTS5's porter tokenizer stems English only;
a PostgreSQL configuration stems one language), so the words are stemmed here, the same way for
both engines, and the engines index and match the stems verbatim. Every word gets its English and
its German Snowball stem; a query word matches a document word when a stem of one is a stem of the
other, so `guarantees` finds `guarantee` and `Tempolimits` finds `Tempolimit` whatever language a
text is in, and nothing has to guess it. Folding first (compatibility decomposition, combining
marks dropped, case folded) makes accents and case not matter: `Straße`, `STRASSE` and `strasse`
are one word, and so are `ÖDP` and `odp`.

The same functions find the matched words in the stored text again, with their offsets, for
snippets and highlights: no engine is asked to highlight a text it only holds stems of.
"""

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import snowballstemmer  # type: ignore[import-untyped]  # the package ships no type information

from app.errors import InvalidField

# A word: letters and digits, with the combining marks of a decomposed accent kept inside it.
# The underscore, which `\w` includes, is not a word character here (texts are read with it
# replaced by a space, which keeps every offset): the index uses it in tokens no word can be
# (app/services/search_index.py).
_WORD = re.compile(r"\w[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*")
# Longer words are cut, alike in documents and queries: PostgreSQL refuses lexemes over 2 KB.
MAX_WORD_CHARS = 100
# Straight and typographic double quotation marks delimit a phrase in a query.
_QUOTATION_MARKS = str.maketrans(dict.fromkeys("“”„‟«»", '"'))
MAX_QUERY_WORDS = 32

_stemmers = threading.local()  # a Snowball stemmer keeps state while it stems: one per thread


class Stems(NamedTuple):
    english: str
    german: str


class Word(NamedTuple):
    start: int
    end: int
    stems: Stems


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()[:MAX_WORD_CHARS]


def stems(word: str) -> Stems:
    """The stems of a word as it stands in a text."""
    if word.isascii() and word.isdigit():  # numbers, often each in one text only, stay out of the cache
        return Stems(word, word)
    return _stems_of_word(word)


@lru_cache(maxsize=50_000)
def _stems_of_word(word: str) -> Stems:
    """Cached: texts repeat most of their words."""
    folded = fold(word)
    if not hasattr(_stemmers, "english"):
        _stemmers.english = snowballstemmer.stemmer("english")
        _stemmers.german = snowballstemmer.stemmer("german")
    return Stems(_stemmers.english.stemWord(folded), _stemmers.german.stemWord(folded))


def words(text: str) -> list[Word]:
    found = _WORD.finditer(text.replace("_", " "))
    return [Word(match.start(), match.end(), stems(match.group())) for match in found]


def stem_sequence(text: str) -> list[Stems]:
    """The stems of the words of `text`, in order: what the index holds of it."""
    return [stems(word) for word in _WORD.findall(text.replace("_", " "))]


@dataclass(frozen=True)
class Clause:
    """A query word, or a quoted phrase: its words' stems, in order. Every clause must match."""

    words: tuple[Stems, ...]

    def readings(self) -> list[tuple[str, ...]]:
        """The clause as stem sequences to look for: the English stems, and the German ones where they differ."""
        english = tuple(stem.english for stem in self.words)
        german = tuple(stem.german for stem in self.words)
        return [english] if english == german else [english, german]


def parse_query(query: str) -> list[Clause]:
    """The clauses of a search query: every word, and every phrase in double quotation marks.

    Only letters and digits count; everything else, the syntax of either engine included (`*`,
    `:`, `-`, parentheses, NEAR, OR), separates words and means nothing more, so every query is a
    valid one. A quotation mark left open is ignored, and the words after it count one by one.
    """
    parts = query.translate(_QUOTATION_MARKS).split('"')
    if len(parts) % 2 == 0:  # an odd number of quotation marks: the last one opens nothing
        parts[-2:] = [parts[-2] + " " + parts[-1]]
    clauses: list[Clause] = []
    for index, part in enumerate(parts):
        found = tuple(word.stems for word in words(part))
        if index % 2 == 1 and len(found) > 1:
            clauses.append(Clause(found))
        else:
            clauses.extend(Clause((stem,)) for stem in found)
    clauses = list(dict.fromkeys(clauses))
    if not clauses:
        raise InvalidField("q", "The query has no words to search for: give at least one word of letters or digits.")
    if sum(len(clause.words) for clause in clauses) > MAX_QUERY_WORDS:
        raise InvalidField("q", f"The query has more than {MAX_QUERY_WORDS} words; search for fewer.")
    return clauses


def matched_spans(text: str, clauses: list[Clause]) -> list[tuple[int, int]]:
    """Where the clauses occur in `text`: (start, end) offsets in code points, end exclusive,
    ordered and merged where they overlap. A phrase is one span from its first word to its last.

    As the index matches: a reading of a clause (see Clause.readings) occurs where as many
    consecutive words have it as their English stems, or as their German ones. For a single word,
    that is a word sharing a stem with it."""
    found = words(text)
    single = {stem for clause in clauses if len(clause.words) == 1 for stem in clause.words[0]}
    spans = [(word.start, word.end) for word in found if word.stems.english in single or word.stems.german in single]
    phrases = [reading for clause in clauses if len(clause.words) > 1 for reading in clause.readings()]
    if phrases:
        sequences = ([word.stems.english for word in found], [word.stems.german for word in found])
        for reading in phrases:
            width = len(reading)
            for sequence in sequences:
                for index in range(len(found) - width + 1):
                    if sequence[index] == reading[0] and tuple(sequence[index : index + width]) == reading:
                        spans.append((found[index].start, found[index + width - 1].end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
