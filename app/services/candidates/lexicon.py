"""Matching a speaker to a party (names and aliases) and a passage to issues (keywords), and the
stance a passage's wording suggests."""

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.models.common import Stance


@dataclass(frozen=True)
class PartyTerms:
    slug: str
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class IssueTerms:
    slug: str
    title: str
    proposition: str
    keywords: tuple[str, ...]


# --- parties --------------------------------------------------------------------------------------

# Adjectives of place, so "French President Emmanuel Macron" finds the party named "France".
DEMONYMS = {
    "american": "america", "british": "united kingdom", "chinese": "china", "european": "europe",
    "finnish": "finland", "french": "france", "german": "germany", "italian": "italy", "polish": "poland",
    "russian": "russia", "ukrainian": "ukraine", "spanish": "spain", "dutch": "netherlands",
    "turkish": "turkey", "belarusian": "belarus", "hungarian": "hungary", "estonian": "estonia",
    "latvian": "latvia", "lithuanian": "lithuania", "swedish": "sweden", "norwegian": "norway",
    "danish": "denmark", "canadian": "canada", "japanese": "japan", "indian": "india", "israeli": "israel",
    "iranian": "iran", "georgian": "georgia", "moldovan": "moldova", "romanian": "romania",
}  # fmt: skip
# ... but only with a title that makes the speaker speak for that state: a "Russian analyst" does not.
STATE_TITLES = frozenset(
    """president prime minister foreign chancellor leader leaders official officials government governments
    negotiator negotiators diplomat diplomats delegation spokesman spokeswoman spokesperson envoy ambassador
    ministry authorities side camp forces military troops army administration premier king queen""".split()
)


def _without_article(name: str) -> str:
    name = name.strip()
    return name[4:] if name[:4].lower() == "the " else name


def _normal(name: str) -> str:
    """The matching key of a name: "the Kremlin" and "Kremlin" are one name, but "the president"
    keeps its article, so a bare "president" or "minister" is not the definite description."""
    name = " ".join(name.replace("\u2019", "'").split()).strip(" ,;:")
    if name[:4].lower() == "the " and (name[4:5].isupper() or name[4:5].isdigit()):
        name = name[4:]
    return name.lower()


@dataclass(frozen=True)
class PartyMatch:
    slug: str
    # "alias": the whole phrase is a name of the party; "within": a name inside it; "demonym":
    # "French President …"; "earlier": a surname whose full mention matched before.
    how: str


class PartyMatcher:
    """Finds the party a speaker's phrase names. A definite description ("the president") must be
    the whole phrase; a proper name ("Kremlin", "NATO") may stand inside it ("Kremlin spokesman
    Dmitry Peskov"). Names shared by several parties, or a phrase naming several, match nothing."""

    def __init__(self, parties: Sequence[PartyTerms]) -> None:
        exact: dict[str, set[str]] = defaultdict(set)
        proper: dict[str, set[str]] = defaultdict(set)
        for party in parties:
            names = [*party.aliases, re.sub(r"\s*\(.*?\)\s*", " ", party.name).strip()]
            for name in names:
                normal = _normal(name)
                if not normal:
                    continue
                exact[normal].add(party.slug)
                if not normal.startswith("the ") and (normal[:1].isdigit() or _without_article(name)[:1].isupper()):
                    proper[normal].add(party.slug)
        self._exact = dict(exact)
        self._proper = dict(proper)
        names_longest_first = sorted(proper, key=len, reverse=True)
        self._pattern = (
            re.compile(
                r"(?<![\w-])(?:" + "|".join(re.escape(name) for name in names_longest_first) + r")(?![\w-])",
                re.IGNORECASE,
            )
            if names_longest_first
            else None
        )
        self._cache: dict[str, PartyMatch | None] = {}

    def match(self, phrase: str) -> PartyMatch | None:
        if phrase not in self._cache:
            self._cache[phrase] = self._match(phrase)
        return self._cache[phrase]

    def _match(self, phrase: str) -> PartyMatch | None:
        normal = _normal(phrase)
        slugs = self._exact.get(normal)
        if slugs:
            return PartyMatch(next(iter(slugs)), "alias") if len(slugs) == 1 else None
        if self._pattern is not None:
            found: set[str] = set()
            for match in self._pattern.finditer(phrase.replace("\u2019", "'")):
                if match.group()[:1].isupper() or match.group()[:1].isdigit():
                    found |= self._proper.get(_normal(match.group()), set())
            if found:
                return PartyMatch(next(iter(found)), "within") if len(found) == 1 else None
        words = normal.replace("'s", "").split()
        if any(word in STATE_TITLES for word in words):
            found = set()
            for word in words:
                country = DEMONYMS.get(word)
                if country is not None:
                    found |= self._exact.get(country, set())
            if len(found) == 1:
                return PartyMatch(next(iter(found)), "demonym")
        return None


# --- issues ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    """the a an of to in on for and or as is are be its it that this with by from at not no does do part
    who what whether which their them they his her he she more other than into after before over such
    must should would could can will may gives given giving get gets getting further back up out new""".split()
)
# Evidence weights: the passage itself counts most, then its sentence; when those say too little,
# the two sentences before it and, lighter, the heading of its section.
IN_PASSAGE = 1.0
IN_SENTENCE = 0.5
IN_CONTEXT = 0.3
IN_HEADING = 0.2
MIN_ISSUE_SCORE = 0.5


def stem(word: str) -> str:
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words_of(text: str) -> list[str]:
    return [stem(word) for word in _WORD.findall(text)]


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    issue: int
    weight: float
    label: str
    is_keyword: bool = True


@dataclass(frozen=True)
class Hit:
    position: int
    issue: int
    weight: float
    label: str


class IssueScorer:
    """Finds an issue's keywords (phrases, weight by length) and the rarer words of its title and
    proposition (lighter, and only those few issues share) in a passage."""

    def __init__(self, issues: Sequence[IssueTerms]) -> None:
        self.issues = list(issues)
        index: dict[str, list[Term]] = defaultdict(list)
        vocabulary: list[set[str]] = []
        frequency: dict[str, int] = defaultdict(int)  # in how many issues a word is a keyword or title word
        for number, issue in enumerate(self.issues):
            seen: set[tuple[str, ...]] = set()
            for keyword in issue.keywords:
                words = tuple(words_of(keyword))
                if words and words not in seen:
                    seen.add(words)
                    index[words[0]].append(Term(words, number, min(3.0, 1.0 + 0.5 * (len(words) - 1)), keyword))
            vocabulary.append(
                {
                    word
                    for word in words_of(f"{issue.title} {issue.proposition}")
                    if word not in STOPWORDS and len(word) >= 3 and not word.isdigit() and (word,) not in seen
                }
            )
            for word in vocabulary[-1] | {words[0] for words in seen if len(words) == 1}:
                frequency[word] += 1
        for number, title_words in enumerate(vocabulary):
            for word in sorted(title_words):
                weight = {1: 0.4, 2: 0.2}.get(frequency[word])
                if weight is not None:
                    index[word].append(Term((word,), number, weight, word, is_keyword=False))
        self._index = dict(index)
        self.negated = [bool(re.search(r"\b(?:not|no|never)\b|n't\b", issue.proposition)) for issue in self.issues]

    def hits(self, text: str, start: int, end: int) -> list[Hit]:
        spans = [(match.start(), stem(match.group())) for match in _WORD.finditer(text, start, end)]
        keyword_hits: list[Hit] = []
        title_hits: list[tuple[int, Hit]] = []
        covered: set[tuple[int, int]] = set()  # (issue, word index) inside a keyword found
        for position, (offset, word) in enumerate(spans):
            for term in self._index.get(word, ()):
                length = len(term.words)
                if length > 1 and tuple(word for _, word in spans[position : position + length]) != term.words:
                    continue
                hit = Hit(offset, term.issue, term.weight, term.label)
                if term.is_keyword:
                    keyword_hits.append(hit)
                    covered.update((term.issue, index) for index in range(position, position + length))
                else:
                    title_hits.append((position, hit))
        # A title word inside a keyword of the same issue ("article" in "article 5") counts once.
        return keyword_hits + [hit for position, hit in title_hits if (hit.issue, position) not in covered]


@dataclass(frozen=True)
class IssueScore:
    slug: str
    score: float
    keywords: tuple[str, ...]


def rank_issues(scorer: IssueScorer, weighted_hits: Iterable[tuple[Hit, float]]) -> list[IssueScore]:
    scores: dict[int, float] = defaultdict(float)
    labels: dict[int, list[str]] = defaultdict(list)
    for hit, factor in weighted_hits:
        scores[hit.issue] += hit.weight * factor
        if hit.label not in labels[hit.issue]:
            labels[hit.issue].append(hit.label)
    ranked = sorted(scores, key=lambda number: (-scores[number], number))
    return [
        IssueScore(scorer.issues[number].slug, round(scores[number], 2), tuple(labels[number][:6]))
        for number in ranked
        if scores[number] > 0
    ]


# --- stance ---------------------------------------------------------------------------------------

_NEGATIVE = frozenset(
    """not never no nobody nothing neither nor cannot without reject rejects rejected rejecting refuse refuses
    refused oppose opposes opposed deny denies denied dismiss dismisses dismissed rebuff rebuffs rebuffed
    against""".split()
)
_POSITIVE = frozenset(
    """want wants wanted agree agrees agreed support supports supported back backs backed demand demands
    demanded must insist insists insisted ready committed welcome welcomes welcomed accept accepts accepted
    approve approves approved favour favours favor favors urge urges urged need needs require requires
    required confident""".split()
)
_HEDGES = frozenset("may might could perhaps possibly likely necessarily hope hoped hopes open".split())
_WORDS_AND_CONTRACTIONS = re.compile(r"[A-Za-z]+(?:['\u2019][a-z]+)?")


def suggest_stance(passage: str, *, proposition_negated: bool) -> Stance:
    """support/oppose (lean_ when hedged) from negation against affirmation cues; `unclear` when
    neither prevails. A proposition that is itself negative ("Ukraine does not get Crimea back")
    turns a negated passage into agreement."""
    negative = positive = hedged = 0
    for token in _WORDS_AND_CONTRACTIONS.findall(passage):
        word = token.lower().replace("\u2019", "'")
        if word in _NEGATIVE or word.endswith("n't") or word == "won't":
            negative += 1
        elif word in _POSITIVE:
            positive += 1
        elif word in _HEDGES:
            hedged += 1
    if "calls for" in passage.lower() or "called for" in passage.lower():
        positive += 1
    if negative == positive:
        return Stance.unclear
    agrees = positive > negative
    if proposition_negated:
        agrees = not agrees
    if agrees:
        return Stance.lean_support if hedged else Stance.support
    return Stance.lean_oppose if hedged else Stance.oppose


def squash(value: float) -> float:
    """A score of any size as 0..1, for confidence."""
    return 1 - math.exp(-value)
