"""Candidate statements of a text: direct quotations and reported speech, each with its speaker,
party, ranked issues, suggested stance and a confidence. Pure Python over plain data, no database."""

import time
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from app.models.common import Stance
from app.services.candidates.attribution import (
    PERSONAL_PRONOUNS,
    AccordingTo,
    Cue,
    Cues,
    Phrase,
    according_to,
    clause_after,
    phrase_after_quotation,
    sentence_subject,
)
from app.services.candidates.layout import REACH, Layout, Quotation, lay_out, word_count
from app.services.candidates.lexicon import (
    IN_CONTEXT,
    IN_HEADING,
    IN_PASSAGE,
    IN_SENTENCE,
    MIN_ISSUE_SCORE,
    Hit,
    IssueScore,
    IssueScorer,
    IssueTerms,
    PartyMatch,
    PartyMatcher,
    PartyTerms,
    rank_issues,
    squash,
    suggest_stance,
)

# More than this many candidates in one text is not a news article; the rest are left out. The
# quoted characters are bounded too, since reported clauses can overlap: it bounds the answer's size.
MAX_PROPOSALS = 5_000
MAX_QUOTED_CHARS = 2_000_000
# A news article takes milliseconds; hostile text must not hold a worker for longer than this.
# Past it, what was found so far is returned with `truncated`.
MAX_SECONDS = 5.0
# A pronoun refers back at most this far (about three paragraphs); a surname to at most this many
# speakers named before it.
PRONOUN_REACH = 1_500
FULL_NAME_LOOKBACK = 200


@dataclass(frozen=True)
class Speaker:
    text: str  # as the text names the speaker (for a pronoun, the name it refers back to)
    pronoun: str | None  # the pronoun the attribution used, when it used one
    party: PartyMatch | None


@dataclass(frozen=True)
class Proposal:
    kind: str  # "direct" | "reported"
    start: int
    end: int
    quote: str
    speaker: Speaker | None
    issues: tuple[IssueScore, ...]
    issue: str | None
    stance: Stance
    confidence: float
    split_from: int | None

    @property
    def party(self) -> str | None:
        return self.speaker.party.slug if self.speaker and self.speaker.party else None


@dataclass(frozen=True)
class Extraction:
    proposals: list[Proposal]
    truncated: bool


@dataclass
class _Attribution:
    phrase: Phrase | None
    how: str
    cue_word: str | None = None
    split_from: int | None = None


class _Extractor:
    def __init__(self, text: str, parties: Sequence[PartyTerms], issues: Sequence[IssueTerms]) -> None:
        self.text = text
        self.layout: Layout = lay_out(text)
        self.cues = Cues(self.layout)
        self.parties = PartyMatcher(parties)
        self.scorer = IssueScorer(issues)
        self._sentence_hits: dict[int, list[Hit]] = {}
        self._hit_positions: dict[int, list[int]] = {}
        # Speakers named so far, in text order: what "he said" can refer back to.
        self._named: list[tuple[int, Speaker]] = []
        self._mentions_until = 0
        self._last_quotation: tuple[Quotation, _Attribution | None] | None = None

    # --- speakers ---------------------------------------------------------------------------------

    def _note_mentions(self, position: int) -> None:
        """Sentence subjects that name a party's person ("Zelensky seems committed …") are speakers
        a later "he said" can mean, even when they said nothing quoted."""
        sentences = self.layout.sentences
        while self._mentions_until < len(sentences) and sentences[self._mentions_until][0] < position:
            index = self._mentions_until
            self._mentions_until += 1
            if index in self.layout.heading_sentences:
                continue
            subject = sentence_subject(self.layout, index)
            if subject.named and subject.text.split()[0].lower() not in ("the", "a", "an"):
                match = self.parties.match(subject.text)
                if match is not None:
                    self._named.append((subject.start, Speaker(subject.text, None, match)))

    def _resolve(self, phrase: Phrase | None, at: int) -> Speaker | None:
        if phrase is None:
            return None
        if phrase.named:
            party = self.parties.match(phrase.text) or self._earlier_full_name(phrase.text)
            speaker = Speaker(phrase.text, None, party)
            self._named.append((phrase.start, speaker))
            return speaker
        if phrase.kind == "pronoun" and phrase.text.lower() in PERSONAL_PRONOUNS:
            for position, named in reversed(self._named):
                if position < at:
                    if at - position > PRONOUN_REACH:
                        return None
                    return Speaker(named.text, phrase.text, named.party)
        return None

    def _earlier_full_name(self, name: str) -> PartyMatch | None:
        """News style names a speaker in full once ("French President Emmanuel Macron") and by
        surname after ("Macron"): a bare name takes the party of the latest full mention ending in it."""
        if len(name.split()) != 1:
            return None
        for _, earlier in reversed(self._named[-FULL_NAME_LOOKBACK:]):
            words = earlier.text.split()
            if earlier.party is not None and len(words) > 1 and words[-1] == name:
                return PartyMatch(earlier.party.slug, "earlier")
        return None

    # --- direct quotations ------------------------------------------------------------------------

    def _attribute(self, quote: Quotation) -> _Attribution | None:
        text, layout = self.text, self.layout
        sentence = layout.sentence_index(quote.open)
        sentence_start = layout.sentences[sentence][0]
        starts_sentence = quote.open - sentence_start <= REACH and not text[sentence_start : quote.open].strip()
        after = phrase_after_quotation(layout, quote.close)
        split_by_attribution = text[quote.end : quote.close].strip() == ","
        before = self._cue_before(quote, sentence_start)
        if after is not None and (starts_sentence or split_by_attribution or before is None):
            return _Attribution(after[0], "after", after[1])
        if before is not None:
            cue, phrase = before
            return _Attribution(phrase, "before", cue.word)
        if starts_sentence:
            previous = self._previous_piece(quote, sentence)
            if previous is not None:
                return previous
            introduced = self._introduced_by_previous_line(quote)
            if introduced is not None:
                return introduced
        subject = sentence_subject(layout, sentence)
        if subject.named and self.parties.match(subject.text) is not None:
            return _Attribution(subject, "subject")
        return None

    def _cue_before(self, quote: Quotation, sentence_start: int) -> tuple[Cue, Phrase] | None:
        """The earliest reporting verb of the sentence before the quotation whose speaker is
        known: in "Witkoff told CNN that … Russia conceded that the U.S. “…”" the quoted words
        are Witkoff's. A semicolon or ", while" starts a new speaker's clause."""
        sentence_start = max(sentence_start, quote.open - REACH)
        lead = self.text[sentence_start : quote.open]
        reset = max(lead.rfind(";"), lead.rfind(", while "), lead.rfind(", whereas "))
        window_start = sentence_start + reset + 1 if reset != -1 else sentence_start
        for cue in self.cues.between(window_start, quote.open):
            subject = self.cues.subject(cue)
            if subject.named or (subject.kind == "pronoun" and subject.text.lower() in PERSONAL_PRONOUNS):
                return cue, subject
        return None

    def _previous_piece(self, quote: Quotation, sentence: int) -> _Attribution | None:
        """“A,” Trump wrote. “B”: the second piece continues the first, with the same speaker."""
        line = self.layout.line_index(quote.open)
        if self._last_quotation is None:
            return None
        earlier, attribution = self._last_quotation
        if attribution is None or self.layout.line_index(earlier.open) != line:
            return None
        earlier_sentence = self.layout.sentence_index(earlier.open)
        if earlier_sentence != sentence - 1 or attribution.how not in ("after", "continuation"):
            return None
        earlier_sentence_start = self.layout.sentences[earlier_sentence][0]
        if earlier.open - earlier_sentence_start > REACH or self.text[earlier_sentence_start : earlier.open].strip():
            return None
        first = attribution.split_from if attribution.split_from is not None else earlier.start
        return _Attribution(attribution.phrase, "continuation", attribution.cue_word, first)

    def _introduced_by_previous_line(self, quote: Quotation) -> _Attribution | None:
        """A quotation opening its line after a line that ends "… Zelensky wrote on X:"."""
        line = self.layout.line_index(quote.open)
        if line == 0 or self.layout.lines[line][0] != quote.open:
            return None
        previous_start, previous_end = self.layout.lines[line - 1]
        if not self.text[previous_start:previous_end].rstrip().endswith(":"):
            return None
        sentence = self.layout.sentence_index(previous_end - 1)
        for cue in self.cues.between(max(self.layout.sentences[sentence][0], previous_end - REACH), previous_end):
            subject = self.cues.subject(cue)
            if subject.named or subject.kind == "pronoun":
                return _Attribution(subject, "before", cue.word)
        return None

    # --- issues, stance, confidence ---------------------------------------------------------------

    def _hits_of(self, sentence: int) -> list[Hit]:
        """The keyword hits of a sentence, in text order, found once."""
        if sentence not in self._sentence_hits:
            sentence_start, sentence_end = self.layout.sentences[sentence]
            self._sentence_hits[sentence] = self.scorer.hits(self.text, sentence_start, sentence_end)
            self._hit_positions[sentence] = [hit.position for hit in self._sentence_hits[sentence]]
        return self._sentence_hits[sentence]

    def _hits(self, sentence: int, near: tuple[int, int] | None = None) -> list[Hit]:
        """A sentence's hits, or those within REACH of a passage: a text without full stops is one
        endless sentence, and reading all of it for every passage would be quadratic."""
        if sentence in self.layout.heading_sentences:
            return []
        hits = self._hits_of(sentence)
        if near is None:
            near = (self.layout.sentences[sentence][1] - REACH, self.layout.sentences[sentence][1])
        positions = self._hit_positions[sentence]
        return hits[bisect_left(positions, near[0] - REACH) : bisect_left(positions, near[1] + REACH)]

    def _issues(self, start: int, end: int, split_from: int | None) -> list[IssueScore]:
        first = self.layout.sentence_index(start)
        last = self.layout.sentence_index(max(start, end - 1))
        weighted: list[tuple[Hit, float]] = []
        for sentence in range(first, last + 1):
            for hit in self._hits(sentence, (start, end)):
                weighted.append((hit, IN_PASSAGE if start <= hit.position < end else IN_SENTENCE))
        if split_from is not None:
            # The pieces of a split quotation are one utterance: the first piece's sentence counts too.
            first_piece = self.layout.sentence_index(split_from)
            if first_piece < first:
                weighted.extend((hit, IN_SENTENCE) for hit in self._hits(first_piece, (split_from, split_from)))
        ranked = rank_issues(self.scorer, weighted)
        if ranked and ranked[0].score >= MIN_ISSUE_SCORE:
            return ranked
        # Only when the sentence itself says too little: "I don’t have to think about that now"
        # is about the sanctions named in the sentence before.
        taken, sentence = 0, first - 1
        while taken < 2 and sentence >= 0 and first - sentence <= 4:
            if sentence not in self.layout.heading_sentences:
                weighted.extend((hit, IN_CONTEXT) for hit in self._hits(sentence))
                taken += 1
            sentence -= 1
        heading = self.layout.section_heading_before(first)
        if heading is not None:
            # The section heading ("Security guarantees") names what the section is about.
            heading_start = self.layout.sentences[heading][0]
            weighted.extend((hit, IN_HEADING) for hit in self._hits_of(heading) if hit.position < heading_start + REACH)
        return rank_issues(self.scorer, weighted)

    def _proposal(
        self, kind: str, start: int, end: int, speaker: Speaker | None, attribution: _Attribution | None
    ) -> Proposal:
        quote = self.text[start:end]
        split_from = attribution.split_from if attribution and speaker else None
        issues = self._issues(start, end, split_from)
        best = issues[0] if issues and issues[0].score >= MIN_ISSUE_SCORE else None
        stance = Stance.unclear
        if best is not None:
            number = next(index for index, issue in enumerate(self.scorer.issues) if issue.slug == best.slug)
            cue_word = attribution.cue_word if attribution and kind == "reported" else None
            passage = f"{cue_word} {quote}" if cue_word else quote
            stance = suggest_stance(passage, proposition_negated=self.scorer.negated[number])
        how = attribution.how if attribution and speaker else "none"
        return Proposal(
            kind=kind,
            start=start,
            end=end,
            quote=quote,
            speaker=speaker,
            issues=tuple(issues[:5]),
            issue=best.slug if best else None,
            stance=stance,
            confidence=_confidence(kind, quote, speaker, how, best),
            split_from=split_from,
        )

    # --- the pass -----------------------------------------------------------------------------------

    def run(self, limit: int, deadline: float) -> Extraction:
        events: list[tuple[int, int, Quotation | Cue | AccordingTo]] = [
            (quote.open, 0, quote) for quote in self.layout.quotations
        ]
        events += [(cue.start, 1, cue) for cue in self.cues.items if cue.takes_clause]
        events += [(credit.clause[0], 2, credit) for credit in according_to(self.cues)]
        events.sort(key=lambda event: (event[0], event[1]))
        proposals: list[Proposal] = []
        seen: set[tuple[str, int, int]] = set()
        truncated = False
        quoted = 0
        for position, _, event in events:
            if len(proposals) >= limit or quoted > MAX_QUOTED_CHARS or time.monotonic() > deadline:
                truncated = True
                break
            self._note_mentions(position)
            try:
                made = self._make(event)
            except RecursionError:
                # Speakers inherited along a chain of thousands of "… and said": no article reads
                # so; what was found up to here is the answer.
                truncated = True
                break
            if made is not None and (made.kind, made.start, made.end) not in seen:
                seen.add((made.kind, made.start, made.end))
                proposals.append(made)
                quoted += made.end - made.start
        proposals.sort(key=lambda proposal: (proposal.start, -proposal.end, proposal.kind))
        return Extraction(proposals, truncated)

    def _make(self, event: Quotation | Cue | AccordingTo) -> Proposal | None:
        if isinstance(event, Quotation):
            attribution = self._attribute(event)
            self._last_quotation = (event, attribution)
            speaker = self._resolve(attribution.phrase, event.open) if attribution else None
            if speaker is None and word_count(self.text[event.start : event.end]) <= 3:
                return None  # “CCCP”, a scare-quoted word: quoted, but nobody's statement
            if speaker is None and attribution is not None and attribution.how == "subject":
                return None
            return self._proposal("direct", event.start, event.end, speaker, attribution)
        if isinstance(event, Cue):
            clause = clause_after(self.cues, event)
            if clause is None:
                return None
            speaker = self._resolve(self.cues.subject(event), event.start)
            if speaker is None:
                return None  # reported speech with nobody to report it is narration
            attribution = _Attribution(self.cues.subject(event), "verb", event.word)
            return self._proposal("reported", clause[0], clause[1], speaker, attribution)
        speaker = self._resolve(event.speaker, event.clause[0])
        attribution = _Attribution(event.speaker, "according")
        return self._proposal("reported", *event.clause, speaker, attribution)


def _confidence(kind: str, quote: str, speaker: Speaker | None, how: str, issue: IssueScore | None) -> float:
    """A rough likelihood that the candidate is a usable statement as proposed: a quotation with
    a named speaker whose name is a party alias scores high; a fragment, a pronoun, a speaker
    outside the known parties or a missing issue lower it."""
    value = 0.5 if kind == "direct" else 0.4
    attributed = {"after": 0.25, "before": 0.22, "continuation": 0.2, "according": 0.2, "verb": 0.22, "subject": 0.05}
    value += attributed.get(how, 0.0)
    if speaker is not None and speaker.pronoun is not None:
        value -= 0.07
    if speaker is not None:
        party = speaker.party
        matched = {"alias": 0.12, "within": 0.08, "demonym": 0.05, "earlier": 0.05}
        value += matched.get(party.how, 0.0) if party else -0.08
    if issue is not None:
        value += 0.08 * squash(issue.score)
    words = word_count(quote)
    if kind == "direct" and words <= 2:
        value -= 0.15
    elif kind == "direct" and words == 3:
        value -= 0.05
    return round(min(0.99, max(0.05, value)), 2)


def extract(
    text: str, parties: Sequence[PartyTerms], issues: Sequence[IssueTerms], *, limit: int = MAX_PROPOSALS
) -> Extraction:
    deadline = time.monotonic() + MAX_SECONDS
    return _Extractor(text, parties, issues).run(limit, deadline)
