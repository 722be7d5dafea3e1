"""Who said it: reporting verbs, the noun phrase that names the speaker, and the clause a verb reports.

The rules read a bounded window of words around each verb or quotation, so their cost per cue is
constant and the whole pass stays linear in the text.
"""

import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import islice

from app.services.candidates.layout import ABBREVIATIONS, MAX_QUOTE_CHARS, REACH, Layout

# --- word lists ---------------------------------------------------------------------------------


def _forms(*groups: str) -> frozenset[str]:
    return frozenset(word for group in groups for word in group.split())


# Verbs that report speech and can take a content clause ("said that ...", "demanded that ...").
CLAUSE_VERBS = _forms(
    "say says said saying tell tells told telling add adds added adding write writes wrote writing",
    "post posts posted posting tweet tweets tweeted tweeting states stated stating",
    "claim claims claimed claiming assert asserts asserted asserting insist insists insisted insisting",
    "warn warns warned warning argue argues argued arguing demand demands demanded demanding",
    "suggest suggests suggested suggesting concede concedes conceded conceding",
    "acknowledge acknowledges acknowledged acknowledging admit admits admitted admitting",
    "announce announces announced announcing declare declares declared declaring note notes noted noting",
    "stress stresses stressed stressing emphasize emphasizes emphasized emphasizing emphasise emphasised",
    "reiterate reiterates reiterated reiterating signal signals signaled signalled signaling signalling",
    "repeat repeats repeated repeating promise promises promised promising pledge pledges pledged pledging",
    "vow vows vowed vowing threaten threatens threatened threatening deny denies denied denying",
    "predict predicts predicted predicting explain explains explained explaining reply replies replied",
    "confirm confirms confirmed confirming report reports reported reporting agree agrees agreed",
    "hint hints hinted hinting indicate indicates indicated indicating maintain maintains maintained",
    "contend contends contended allege alleges alleged urge urges urged recall recalls recalled",
)
# Verbs whose content clause may come without "that" ("said the option was ...").
THATLESS_VERBS = _forms(
    "say says said saying add adds added adding argue argues argued insist insists insisted",
    "claim claims claimed write writes wrote warn warns warned stress stressed note noted",
    "suggest suggests suggested predict predicted acknowledge acknowledged concede conceded",
)
# Verbs that introduce a quotation but not a clause ("called the shift “game-changing”").
QUOTING_VERBS = _forms(
    "call calls called calling voice voices voiced voicing describe describes described describing",
    "dub dubs dubbed term terms termed label labels labeled labelled brand branded hail hailed",
    "dismiss dismissed slam slammed blast blasted praise praised",
)
# Verbs of an attribution that follows its quotation ("…,” he asked.).
AFTER_QUOTE_VERBS = (
    CLAUSE_VERBS
    | QUOTING_VERBS
    | _forms(
        "ask asks asked continue continues continued conclude concluded remark remarked quip quipped",
        "joke joked respond responds responded answer answered observe observed shout shouted",
    )
)
CUE_VERBS = CLAUSE_VERBS | QUOTING_VERBS

# Lower-case words that can stand in a speaker's name or title ("U.S. special envoy Steve Witkoff").
TITLE_WORDS = _forms(
    "president vice prime minister foreign defense defence deputy secretary general state press",
    "spokesman spokeswoman spokesperson envoy special aide adviser advisor chief senior top national",
    "security policy official officials leader leaders government governments administration ministry",
    "office negotiator negotiators diplomat diplomats delegation camp side alliance team staff ambassador",
    "chancellor governor senator lawmaker lawmakers analyst analysts fellow expert experts commander",
    "military authorities counterpart head director council parliament spokespeople sources source",
    "foreign-policy white house",
)
# The lower-case words among them that can head a speaker's noun phrase ("the president").
SPEAKER_NOUNS = _forms(
    "president minister secretary general spokesman spokeswoman spokesperson envoy aide adviser advisor",
    "chief official officials leader leaders government governments administration ministry office",
    "negotiator negotiators diplomat diplomats delegation camp side alliance team ambassador chancellor",
    "governor senator lawmaker lawmakers analyst analysts fellow expert experts commander authorities",
    "counterpart head director council parliament spokespeople sources source",
)
NUMBER_WORDS = _forms("two three four five six several")
DETERMINERS = _forms("the a an")
PERSONAL_PRONOUNS = _forms("he she")
OTHER_PRONOUNS = _forms("they we i it you")
CONJUNCTIONS = _forms("and but or then")
# Trailing words between a subject and its verb ("Witkoff further claimed", "has also said").
_BETWEEN_SUBJECT_AND_VERB = _forms(
    "has have had is was also later further again then once still already previously recently",
    "himself herself itself themselves would will did does do could on monday tuesday wednesday",
    "thursday friday saturday sunday today yesterday tonight earlier",
)
# Capitalised at a sentence's start, these begin a phrase, never a speaker's name.
_SENTENCE_OPENERS = _forms(
    "In On At During After Before When While If As Although Though But And Yet So Asked Speaking Even",
    "Some Many Multiple This That These Those It There Here Meanwhile However Still Also Then Now Later",
    "Earlier Since Because According Despite With Without For From Over Under Amid Until Once Whatever",
    "Whether What Who Why How Where",
)
# Words a content clause starts with ("said the option was ...", "say they are ...").
_CLAUSE_OPENERS = _forms(
    "the a an he she it they we i there this these those his her its their our any no some all every",
    "nobody nothing everyone both neither either",
)
# Words that show a clause has begun; a "that" after them is inside the clause, not its start.
_FINITE = _forms(
    "is was are were be been will would can could should must has had have may might did does do",
    "won't wouldn't can't couldn't isn't wasn't aren't weren't",
)
_TIME_WORDS = _forms(
    "on monday tuesday wednesday thursday friday saturday sunday today yesterday tonight last this week",
    "earlier later morning evening afternoon night",
)
_NOUN_MARKERS = _forms("a an the any his her its their our my your this that these those no every some")

_WORD = re.compile(r"[A-Za-z]+")
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = "\u201c\u201d\u2018\u2019\"'()[],.;:!?\u2014\u2013"
_QUOTE_CHARS = '\u201c\u201d\u00ab\u00bb"'
_WINDOW = 300  # characters of a sentence read before a verb for its subject
_ACCORDING_TO = re.compile(r"\b[Aa]ccording to\s")
_CONNECTOR_BEFORE = re.compile(r"(?:,\s*(?:and\s+|but\s+)?|\s(?:and|but)\s+)(?:also\s+|later\s+|then\s+)?$")


def bare(token: str) -> str:
    return token.strip(_EDGE_PUNCTUATION)


def _is_abbreviation(token: str) -> bool:
    word = bare(token).rstrip(".").lower()
    return word in ABBREVIATIONS or (len(word) <= 5 and "." in bare(token))


def _is_proper(word: str) -> bool:
    return bool(word) and (word[0].isupper() or word[0].isdigit())


# --- subjects -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """A speaker as the text names it: a noun phrase, a pronoun, or nothing that can be used."""

    kind: str  # "name" | "pronoun" | "coordinated" | "none"
    text: str = ""
    start: int = -1

    @property
    def named(self) -> bool:
        return self.kind == "name"


NONE = Phrase("none")
COORDINATED = Phrase("coordinated")


def _has_quote_mark(raw: str) -> bool:
    return any(mark in raw for mark in _QUOTE_CHARS)


def _tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [match.span() for match in _TOKEN.finditer(text, start, end)]


def _valid_head(word: str) -> bool:
    return _is_proper(word) or word.lower() in SPEAKER_NOUNS


def phrase_ending_at(text: str, start: int, end: int) -> Phrase:
    """The speaker named just before a verb, in text[start:end] ("President Donald Trump has")."""
    tokens = _tokens(text, start, end)
    while tokens and bare(text[slice(*tokens[-1])]).lower() in _BETWEEN_SUBJECT_AND_VERB:
        raw = text[slice(*tokens[-1])]
        if raw != bare(raw) and not raw.endswith("."):
            break
        tokens.pop()
    while tokens and _is_adverb(text[slice(*tokens[-1])]):
        tokens.pop()
    if not tokens:
        return NONE
    last = text[slice(*tokens[-1])]
    if last.endswith(","):
        # "Yuri Ushakov, an aide to Putin, said": the speaker stands before the apposition.
        commas = [index for index, span in enumerate(tokens[:-1]) if text[slice(*span)].endswith(",")]
        if not commas:
            return NONE
        tokens = tokens[: commas[-1] + 1]
        last = text[slice(*tokens[-1])]
    word = bare(last).lower()
    if word in ("which", "who") and len(tokens) > 1 and text[slice(*tokens[-2])].endswith(","):
        tokens = tokens[:-1]  # "the European alliance, which has warned": the antecedent speaks
        last = text[slice(*tokens[-1])]
        word = bare(last).lower()
    if word in CONJUNCTIONS:
        return COORDINATED
    if word in PERSONAL_PRONOUNS or word in OTHER_PRONOUNS:
        return Phrase("pronoun", bare(last), tokens[-1][0])
    return _walk_back(text, tokens)


def _is_adverb(token: str) -> bool:
    word = bare(token)
    return token == word and len(word) > 4 and word.endswith("ly") and word.islower()


def _walk_back(text: str, tokens: list[tuple[int, int]]) -> Phrase:
    taken: list[int] = []
    for index in range(len(tokens) - 1, -1, -1):
        raw = text[slice(*tokens[index])]
        word = bare(raw)
        if index != len(tokens) - 1 and (raw[-1] in ",;:\u2014\u2013" or raw in ("-", "\u2014", "\u2013")):
            break
        if _has_quote_mark(raw):
            break
        lower = word.lower()
        if lower in DETERMINERS:
            if taken:
                taken.append(index)
            break
        if word in _SENTENCE_OPENERS:
            break
        if (
            _is_proper(word)
            or lower in TITLE_WORDS
            or lower in NUMBER_WORDS
            or (lower == "of" and taken and index > 0 and _is_proper(bare(text[slice(*tokens[index - 1])])))
        ):
            taken.append(index)
        else:
            taken.extend(_adjectives_after_determiner(text, tokens, index) if taken else [])
            break
        if len(taken) >= 10:
            break
    while taken and bare(text[slice(*tokens[taken[-1]])]).lower() == "of":
        taken.pop()
    if not taken or not _valid_head(bare(text[slice(*tokens[taken[0]])])):
        return NONE
    start, end = tokens[taken[-1]][0], tokens[taken[0]][1]
    return Phrase("name", _clean(text[start:end]), start)


def _adjectives_after_determiner(text: str, tokens: list[tuple[int, int]], index: int) -> list[int]:
    """ "The southern minister", "the beleaguered leader": up to two plain words between an
    article and a title belong to the phrase."""
    for determiner in (index - 1, index - 2):
        if determiner < 0:
            return []
        words = [text[slice(*tokens[k])] for k in range(determiner + 1, index + 1)]
        if not all(word.isalpha() and word.islower() for word in words):
            return []
        if text[slice(*tokens[determiner])].lower() in DETERMINERS:
            return list(range(index, determiner - 1, -1))
    return []


def phrase_starting_at(text: str, start: int, end: int) -> Phrase:
    """The speaker named just after a verb or "according to" ("said Michael Kofman, a senior fellow")."""
    taken: list[tuple[int, int]] = []
    # The first twelve words at most: a name or title is never longer, and the window may be long.
    for span in (match.span() for match in islice(_TOKEN.finditer(text, start, end), 12)):
        raw = text[slice(*span)]
        word = bare(raw)
        lower = word.lower()
        if _has_quote_mark(raw):
            break
        if lower in DETERMINERS and not taken:
            taken.append(span)
            continue
        if _is_proper(word) or lower in TITLE_WORDS or lower in NUMBER_WORDS or (lower == "of" and taken):
            taken.append(span)
        else:
            break
        if raw[-1] in ",;:!?" or (raw.endswith(".") and not _is_abbreviation(raw)):
            break
    while taken and bare(text[slice(*taken[-1])]).lower() in ("of", "the", "a", "an"):
        taken.pop()
    if not taken:
        return NONE
    head = bare(text[slice(*taken[-1])])
    if not _valid_head(head) or bare(text[slice(*taken[0])]) in _SENTENCE_OPENERS:
        return NONE
    return Phrase("name", _clean(text[taken[0][0] : taken[-1][1]]), taken[0][0])


def _clean(phrase: str) -> str:
    phrase = phrase.strip().rstrip(",;:")
    if phrase.endswith(".") and not _is_abbreviation(phrase.rsplit(" ", 1)[-1]):
        phrase = phrase[:-1]
    return phrase[:200].strip()


def sentence_subject(layout: Layout, sentence: int) -> Phrase:
    """The noun phrase a sentence opens with, when it names someone ("NATO Secretary General Mark Rutte")."""
    start, end = layout.sentences[sentence]
    return phrase_starting_at(layout.text, start, min(end, start + _WINDOW))


# --- cues -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cue:
    start: int
    end: int
    word: str
    sentence: int

    @property
    def takes_clause(self) -> bool:
        return self.word in CLAUSE_VERBS

    @property
    def participle(self) -> bool:
        return self.word.endswith("ing")


def find_cues(layout: Layout) -> list[Cue]:
    """Reporting verbs used as verbs, outside quotations and headings, in text order."""
    text = layout.text
    cues: list[Cue] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word not in CUE_VERBS:  # lower-case only: a capitalised "States" is a name, not a verb
            continue
        start, end = match.span()
        if (start > 0 and text[start - 1] in "-\u2010") or (end < len(text) and text[end] in "-\u2010"):
            continue  # "so-called"
        if layout.quotation_at(start) is not None or layout.in_heading(start):
            continue
        previous = text[max(0, start - 40) : start].split()
        if previous:
            before = previous[-1]
            if before.lower() in _NOUN_MARKERS or before.endswith(("\u2019s", "'s")):
                continue  # "any promises", "the Kremlin’s demand": nouns
        cues.append(Cue(start, end, word, layout.sentence_index(start)))
    return cues


class Cues:
    """The cues of a text with their subjects, looked up by position."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.items = find_cues(layout)
        self._starts = [cue.start for cue in self.items]
        self._subjects: dict[int, Phrase] = {}
        # Verbs that go on with the same speaker (", adding that", " and insisted that"), found once:
        # (verb start, where its connector starts). A reported clause ends at the first of them.
        self.continuations: list[tuple[int, int]] = []
        text = layout.text
        for cue in self.items:
            connector = _CONNECTOR_BEFORE.search(text, max(0, cue.start - 24), cue.start)
            if connector is not None:
                self.continuations.append((cue.start, connector.start()))

    def between(self, start: int, end: int) -> list[Cue]:
        first = bisect_left(self._starts, start)
        last = bisect_left(self._starts, end)
        return self.items[first:last]

    def in_sentence_before(self, cue: Cue) -> list[Cue]:
        sentence_start = self.layout.sentences[cue.sentence][0]
        return self.between(max(sentence_start, cue.start - REACH), cue.start)

    def subject(self, cue: Cue) -> Phrase:
        """The phrase naming who speaks, resolving coordination ("… and said") and participles
        (", adding that") to the subject of the sentence's first verb or the sentence itself."""
        cached = self._subjects.get(cue.start)
        if cached is None:
            cached = self._subject(cue)
            self._subjects[cue.start] = cached
        return cached

    def _subject(self, cue: Cue) -> Phrase:
        text = self.layout.text
        sentence_start = self.layout.sentences[cue.sentence][0]
        window_start = max(sentence_start, cue.start - _WINDOW)
        for quote in self.layout.quotations_between(window_start, cue.start):
            window_start = max(window_start, quote.close + 1)
        before = text[window_start : cue.start]
        if ";" in before:
            window_start += before.rindex(";") + 1
            before = text[window_start : cue.start]
        phrase = NONE
        inherits = cue.participle and before.rstrip().endswith(",")
        if not inherits:
            phrase = phrase_ending_at(text, window_start, cue.start)
            inherits = phrase.kind == "coordinated" or (phrase.kind == "none" and not before.strip())
        if inherits:
            # "X said that A and insisted that B": the sentence's first speaker goes on, even when
            # A names someone else ("Russia had agreed to …").
            for earlier in self.in_sentence_before(cue):
                inherited = self.subject(earlier)
                if inherited.kind in ("name", "pronoun"):
                    return inherited
            return sentence_subject(self.layout, cue.sentence)
        return phrase


# --- reported speech ------------------------------------------------------------------------------


def clause_after(cues: Cues, cue: Cue) -> tuple[int, int] | None:
    """The content clause a reporting verb introduces: after "that" (within a few words of the verb),
    or straight after said/says when a clause evidently follows. None when there is no clause."""
    layout = cues.layout
    text = layout.text
    sentence_end = layout.sentences[cue.sentence][1]
    tokens = _tokens(text, cue.end, min(sentence_end, cue.end + 200))[:12]
    if not tokens:
        return None
    clause_start: int | None = None
    first = text[slice(*tokens[0])]
    if bare(first).lower() == "to":
        return None  # "agreed to institute": an infinitive, not speech
    for span in tokens[:9]:
        raw = text[slice(*span)]
        lower = bare(raw).lower()
        if _has_quote_mark(raw) or lower in _FINITE or lower in PERSONAL_PRONOUNS or lower in OTHER_PRONOUNS:
            break
        if raw == "that":
            clause_start = span[1]
            break
        if raw[-1] in ";:!?" or (raw.endswith(".") and not _is_abbreviation(raw)):
            break
    if clause_start is None and cue.word in THATLESS_VERBS:
        clause_start = _thatless_clause_start(text, tokens)
    if clause_start is None:
        return None
    while clause_start < sentence_end and text[clause_start].isspace():
        clause_start += 1
    clause_end = _clause_end(cues, cue, clause_start, sentence_end)
    if clause_end is None or clause_end - clause_start > MAX_QUOTE_CHARS:
        return None
    if len(text[clause_start:clause_end].split()) < 2:
        return None
    quote = layout.quotation_at(clause_start + 1)
    if quote is not None and quote.open == clause_start and quote.close >= clause_end - 1:
        return None  # the clause is one quotation, already a direct candidate
    return clause_start, clause_end


def _thatless_clause_start(text: str, tokens: list[tuple[int, int]]) -> int | None:
    index = 0
    while index < len(tokens) and bare(text[slice(*tokens[index])]).lower() in _TIME_WORDS:
        if text[slice(*tokens[index])].endswith((",", ".")):
            return None
        index += 1
    if index >= len(tokens):
        return None
    raw = text[slice(*tokens[index])]
    word = bare(raw)
    if (raw != word and not raw.endswith(("\u2019s", "'s"))) or not word:
        return None  # punctuation or a quotation mark: no clause here
    if not (word.lower() in _CLAUSE_OPENERS or (_is_proper(word) and word not in _SENTENCE_OPENERS)):
        return None
    following = [bare(text[slice(*span)]).lower() for span in tokens[index + 1 : index + 9]]
    if not any(word in _FINITE for word in following):
        return None
    return tokens[index][0]


def _clause_end(cues: Cues, cue: Cue, clause_start: int, sentence_end: int) -> int | None:
    layout = cues.layout
    text = layout.text
    end = min(sentence_end, clause_start + MAX_QUOTE_CHARS + 1)
    following = bisect_left(cues.continuations, (clause_start,))
    if following < len(cues.continuations):
        verb_start, connector_start = cues.continuations[following]
        if verb_start < end:
            end = max(clause_start, connector_start)  # ", adding that": the same speaker goes on
    according = text.find(", according to", clause_start, end)
    if according != -1 and layout.quotation_at(according) is None:
        end = according
    semicolon = text.find(";", clause_start, end)
    while semicolon != -1 and layout.quotation_at(semicolon) is not None:
        semicolon = text.find(";", semicolon + 1, end)
    if semicolon != -1:
        end = semicolon
    while end > clause_start and (text[end - 1].isspace() or text[end - 1] in ".,;:\u2014\u2013"):
        end -= 1
    return end if end > clause_start else None


@dataclass(frozen=True)
class AccordingTo:
    speaker: Phrase
    clause: tuple[int, int]


def according_to(cues: Cues) -> list[AccordingTo]:
    """ "According to X, …" and "…, according to X": the clause and the speaker it is credited to."""
    layout = cues.layout
    text = layout.text
    found: list[AccordingTo] = []
    for match in _ACCORDING_TO.finditer(text):
        if layout.quotation_at(match.start()) is not None or layout.in_heading(match.start()):
            continue
        sentence = layout.sentence_index(match.start())
        sentence_start, sentence_end = layout.sentences[sentence]
        speaker = phrase_starting_at(text, match.end(), min(sentence_end, match.end() + 200))
        if not speaker.named:
            continue
        if match.start() - sentence_start > REACH:
            continue  # more than a sentence before "according to": no clause to credit
        leading = text[sentence_start : match.start()].strip(' \t\u201c"')
        if not leading:
            comma = text.find(",", speaker.start + len(speaker.text), sentence_end)
            if comma == -1 or text[speaker.start + len(speaker.text) : comma].strip():
                continue
            start, end = comma + 1, sentence_end
        else:
            if any(cue.takes_clause for cue in cues.between(max(sentence_start, match.start() - REACH), match.start())):
                continue  # "X demanded that …, according to Y": the verb's clause covers it
            start, end = sentence_start, match.start()
        while start < end and text[start].isspace():
            start += 1
        while end > start and (text[end - 1].isspace() or text[end - 1] in ".,;:"):
            end -= 1
        if len(text[start:end].split()) >= 3 and end - start <= MAX_QUOTE_CHARS:
            found.append(AccordingTo(speaker, (start, end)))
    return found


# --- direct quotations ----------------------------------------------------------------------------


def phrase_after_quotation(layout: Layout, close: int) -> tuple[Phrase, str] | None:
    """The attribution right after a closing mark: “…,” Trump wrote. / “…,” said Michael Kofman."""
    text = layout.text
    line_end = layout.lines[layout.line_index(close)][1]
    tokens = _tokens(text, close + 1, min(line_end, close + 160))[:10]
    if tokens and text[slice(*tokens[0])] == ",":
        tokens = tokens[1:]
    for index, span in enumerate(tokens[:8]):
        raw = text[slice(*span)]
        word = bare(raw)
        if _has_quote_mark(raw):
            return None
        if word in AFTER_QUOTE_VERBS and raw.rstrip(",.;:") == word:
            if index == 0:
                after = phrase_starting_at(text, span[1], min(line_end, span[1] + 200))
                return (after, word) if after.named else None
            phrase = phrase_ending_at(text, tokens[0][0], span[0])
            if phrase.kind in ("name", "pronoun"):
                return phrase, word
            return None
        if raw[-1] in ".;:!?" and not _is_abbreviation(raw):
            return None
    return None
