"""Revisions of a source: the text diff between two versions, and re-anchoring quotes on a new version.

Re-anchoring follows annotation tools (Hypothesis, the W3C TextQuoteSelector): the exact quote is
looked for first, the occurrence nearest the old position and best fitting the stored prefix and
suffix wins; failing that, a fuzzy search around where the old position maps to in the new text.
Only exact matches move a statement; a close match is recorded for an editor to confirm, because
a quote that silently changed wording would no longer be what the party said.
"""

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.errors import InvalidField
from app.models.anchoring import (
    Anchoring,
    AnchoringCounts,
    AnchoringOutcome,
    AnchoringReport,
    TextChange,
    TextChangeKind,
    TextDiff,
)
from app.models.audit import AuditAction, AuditEntity
from app.models.source import Source, SourceCreate, SourceCreated
from app.models.statement import Statement
from app.services import unit_of_work
from app.services.anchoring_review import is_pending, outcome_public
from app.services.audit import AuditEntry
from app.services.quotes import (
    Anchor,
    anchor_at,
    closest_passage,
    find_occurrences,
    matching_form,
    normalize,
)
from app.services.sources import (
    add_source,
    create_source,
    get_source,
    refuse_a_second_successor,
    source_public,
)
from app.services.statements import move_quote

# Product of the token counts an alignment may cost (bit-parallel, so about a second of work).
_ALIGNMENT_BUDGET = 3_000_000_000
# Above this many characters in both texts, words are too many to align: lines are compared.
_WORD_DIFF_CHARS = 200_000
# How far around the mapped old position a drifted quote is looked for, beyond its own length.
_DRIFT_MARGIN_CHARS = 1_000
# Weight of the quote itself in the drift score; the rest is its prefix and suffix.
_QUOTE_WEIGHT = 0.75
# How far beyond a fuzzy alignment's edges better edges are looked for.
_BOUNDS_SLACK_CHARS = 40
_PUNCTUATION = "\"'“”‘’«»()[]{}.,;:!?—–-…"

_WORD = re.compile(r"\S+")
_LINE = re.compile(r"[^\n]+")


Opcode = tuple[str, int, int, int, int]


@dataclass(frozen=True)
class Token:
    key: str  # what is compared: the word, or the line with its whitespace collapsed
    start: int
    end: int


@dataclass(frozen=True)
class Alignment:
    """Two texts cut into tokens and matched, with the edit operations between them."""

    old: list[Token]
    new: list[Token]
    new_length: int
    opcodes: list[Opcode]
    granularity: str

    @cached_property
    def _old_starts(self) -> list[int]:
        return [token.start for token in self.old]

    def map_offset(self, old_offset: int) -> int:
        """Where an offset of the old text lands in the new one: exact inside unchanged passages,
        the start of the replacement inside changed ones."""
        if not self.old:
            return 0
        index = max(0, bisect_right(self._old_starts, old_offset) - 1)
        for tag, i1, i2, j1, _j2 in self.opcodes:
            if i1 <= index < i2:
                if tag == "equal":
                    token = self.new[j1 + index - i1]
                    return min(token.start + old_offset - self.old[index].start, token.end)
                return self.new[j1].start if j1 < len(self.new) else self.new_length
        return self.new_length

    def punctuation_around(self, start: int, end: int) -> tuple[int, int]:
        """How many characters of punctuation the old words at a passage's edges have outside it
        (a quote may begin after an opening mark or stop before a full stop)."""
        if self.granularity != "word" or not self.old:
            return 0, 0
        first = self.old[max(0, bisect_right(self._old_starts, start) - 1)]
        last = self.old[max(0, bisect_right(self._old_starts, max(end - 1, 0)) - 1)]
        head = first.key[: max(0, start - first.start)]
        tail = last.key[max(0, end - last.start) :] if end <= last.end else ""
        return (
            len(head) if all(char in _PUNCTUATION for char in head) else 0,
            len(tail) if all(char in _PUNCTUATION for char in tail) else 0,
        )

    def carry_edge(self, old_offset: int, *, end: bool, within: tuple[int, int]) -> int | None:
        """Where an edge of a passage of the old text lands in the new one, or None when that cannot
        be told. An edge in an unchanged word maps exactly. An edge in an edited passage that lies
        within `within` (the old passage's span) goes to the far side of that passage's new words,
        so the edit belongs to the passage; an edit reaching beyond the passage is ambiguous."""
        char = old_offset - 1 if end else old_offset
        index = bisect_right(self._old_starts, char) - 1
        if index < 0 or char >= self.old[index].end:
            return None  # between words: quotes start and end on words
        for tag, i1, i2, j1, j2 in self.opcodes:
            if not i1 <= index < i2:
                continue
            if tag == "equal":
                token = self.new[j1 + index - i1]
                return token.start + old_offset - self.old[index].start
            changed_start, changed_end = _span(self.old, i1, i2, 0)
            if changed_start < within[0] or changed_end > within[1] or j2 <= j1:
                return None
            return self.new[j2 - 1].end if end else self.new[j1].start
        return None


def _tokens(text: str, granularity: str) -> list[Token]:
    if granularity == "word":
        return [Token(match.group(), match.start(), match.end()) for match in _WORD.finditer(text)]
    tokens = []
    for match in _LINE.finditer(text):
        line = match.group()
        key = " ".join(line.split())
        if key:  # blank lines are whitespace too
            leading = len(line) - len(line.lstrip())
            trailing = len(line) - len(line.rstrip())
            tokens.append(Token(key, match.start() + leading, match.end() - trailing))
    return tokens


def _opcodes(old: list[str], new: list[str]) -> list[Opcode] | None:
    """difflib-style opcodes (equal, insert, delete, replace) of a longest-common-subsequence
    alignment, or None when it would cost more than the budget.

    difflib's SequenceMatcher is quadratic per matching block on repetitive texts (minutes on a
    few thousand words); rapidfuzz aligns bit-parallel in C++, in time proportional to the
    product of the lengths, which is what the budget bounds.
    """
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    old_middle, new_middle = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    if len(old_middle) * len(new_middle) > _ALIGNMENT_BUDGET:
        return None
    if not old_middle or not new_middle:
        middle = [("delete" if old_middle else "insert", 0, len(old_middle), 0, len(new_middle))]
        middle = middle if old_middle or new_middle else []
    else:
        middle = [
            (op.tag, op.src_start, op.src_end, op.dest_start, op.dest_end)
            for op in Indel.opcodes(old_middle, new_middle)
        ]
    ops: list[Opcode] = [("equal", 0, prefix, 0, prefix)] if prefix else []
    for tag, i1, i2, j1, j2 in middle:
        i1, i2, j1, j2 = i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix
        if tag != "equal" and ops and ops[-1][0] != "equal":
            # An LCS alignment says "delete, then insert": together they are one replaced passage.
            _, first_i, _, first_j, _ = ops.pop()
            i1, j1 = first_i, first_j
            tag = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
        ops.append((tag, i1, i2, j1, j2))
    if suffix:
        ops.append(("equal", len(old) - suffix, len(old), len(new) - suffix, len(new)))
    return ops


def align(old_text: str, new_text: str) -> Alignment:
    """Tokens never contain whitespace (or, line by line, compare with it collapsed), so changes of
    whitespace alone never show. Texts too long to align word by word are aligned line by line;
    failing that, everything between their common beginning and end is one replaced passage."""
    for granularity in ("word", "line"):
        if granularity == "word" and min(len(old_text), len(new_text)) > _WORD_DIFF_CHARS:
            continue
        old, new = _tokens(old_text, granularity), _tokens(new_text, granularity)
        ops = _opcodes([token.key for token in old], [token.key for token in new])
        if ops is not None:
            return Alignment(old, new, len(new_text), ops, granularity)
    old, new = [Token(old_text, 0, len(old_text))], [Token(new_text, 0, len(new_text))]
    same = old_text.split() == new_text.split()
    return Alignment(old, new, len(new_text), [("equal" if same else "replace", 0, 1, 0, 1)], "text")


def _span(tokens: list[Token], first: int, last: int, text_length: int) -> tuple[int, int]:
    """Characters covered by tokens[first:last]; an empty range is the point before tokens[first]."""
    if first < last:
        return tokens[first].start, tokens[last - 1].end
    point = tokens[first].start if first < len(tokens) else text_length
    return point, point


def text_changes(old_text: str, new_text: str) -> tuple[str, list[TextChange]]:
    alignment = align(old_text, new_text)
    kinds = {"insert": TextChangeKind.inserted, "delete": TextChangeKind.deleted, "replace": TextChangeKind.replaced}
    changes = []
    for tag, i1, i2, j1, j2 in alignment.opcodes:
        if tag == "equal":
            continue
        old_start, old_end = _span(alignment.old, i1, i2, len(old_text))
        new_start, new_end = _span(alignment.new, j1, j2, len(new_text))
        changes.append(
            TextChange(
                kind=kinds[tag],
                old_start=old_start,
                old_end=old_end,
                new_start=new_start,
                new_end=new_end,
                old_text=old_text[old_start:old_end],
                new_text=new_text[new_start:new_end],
            )
        )
    return alignment.granularity, changes


def text_diff(session: Session, source_id: int, against_id: int | None) -> TextDiff:
    new = get_source(session, source_id)
    if against_id is None:
        if new.supersedes_id is None:
            raise InvalidField(
                "against", f"Source {source_id} supersedes no other source: give `against`, the id to compare with."
            )
        against_id = new.supersedes_id
    old = get_source(session, against_id)
    granularity, changes = text_changes(old.text, new.text)
    return TextDiff(source=source_id, against=against_id, granularity=granularity, changes=changes)


# --- re-anchoring --------------------------------------------------------------------------------


def _similarity(left: str, right: str) -> float:
    left, right = matching_form(left), matching_form(right)
    if not left and not right:
        return 1.0
    return fuzz.ratio(left, right) / 100


def _context_similarity(statement: Statement, anchor: Anchor) -> float:
    return (_similarity(statement.quote_prefix, anchor.prefix) + _similarity(statement.quote_suffix, anchor.suffix)) / 2


def _exact_anchor(statement: Statement, new_text: str, expected_start: int) -> Anchor | None:
    occurrences = find_occurrences(new_text, statement.quote, normalize(new_text))
    if not occurrences:
        return None
    # Context first (a repeated phrase in another paragraph is another passage), then nearness.
    return min(
        occurrences,
        key=lambda anchor: (-round(_context_similarity(statement, anchor), 2), abs(anchor.start - expected_start)),
    )


def _word_bounds(text: str, start: int, end: int) -> tuple[list[int], list[int]]:
    """Where a passage near text[start:end] could start and end instead: at the edges of the words
    near its edges, with or without the punctuation around a word (a few dozen pairs to score)."""
    starts, ends = {start}, {end}
    for word in _WORD.finditer(text, max(0, start - _BOUNDS_SLACK_CHARS), start + _BOUNDS_SLACK_CHARS):
        token = word.group()
        starts.update((word.start(), word.start() + len(token) - len(token.lstrip(_PUNCTUATION))))
    for word in _WORD.finditer(text, max(0, end - _BOUNDS_SLACK_CHARS), end + _BOUNDS_SLACK_CHARS):
        token = word.group()
        ends.update((word.end(), word.end() - (len(token) - len(token.rstrip(_PUNCTUATION)))))
    return sorted(starts), sorted(ends)


def _best_bounds(text: str, quote: str, start: int, end: int) -> tuple[int, int]:
    """A fuzzy alignment is approximate at its edges ("but the Kremlin…control.\nEuropean"):
    the edges that make the passage most like the quote."""
    starts, ends = _word_bounds(text, start, end)
    wanted = matching_form(quote)
    best = (start, end)
    best_key = (-1.0, 0)
    for candidate_start in starts:
        for candidate_end in ends:
            if candidate_end <= candidate_start:
                continue
            score = fuzz.ratio(wanted, matching_form(text[candidate_start:candidate_end]))
            key = (score, -abs(candidate_end - candidate_start - len(quote)))
            if key > best_key:
                best, best_key = (candidate_start, candidate_end), key
    return best


def _carried_span(statement: Statement, alignment: Alignment, new_text: str) -> tuple[int, int] | None:
    """The quote's span carried through the text diff: every edit between its edges is part of it,
    which a fuzzy search, preferring the passage most like the old words, would leave out."""
    before, after = alignment.punctuation_around(statement.quote_start, statement.quote_end)
    within = (statement.quote_start - before, statement.quote_end + after)
    start = alignment.carry_edge(statement.quote_start, end=False, within=within)
    end = alignment.carry_edge(statement.quote_end, end=True, within=within)
    if start is None or end is None or end <= start or end - start > 2 * len(statement.quote) + _BOUNDS_SLACK_CHARS:
        return None
    # An edited word may carry punctuation the quote did not include ("States." -> "Washington.").
    while end > start + 1 and new_text[end - 1] in _PUNCTUATION and not statement.quote.endswith(new_text[end - 1]):
        end -= 1
    while start < end - 1 and new_text[start] in _PUNCTUATION and not statement.quote.startswith(new_text[start]):
        start += 1
    return start, end


def _drifted_anchor(statement: Statement, new_text: str, alignment: Alignment) -> tuple[Anchor | None, float]:
    """The quote's new version and its score (quote and context): the span the text diff carries it
    to, else the passage around its mapped position most like it."""
    carried = _carried_span(statement, alignment, new_text)
    if carried is not None:
        start, end = carried
    else:
        expected_start = alignment.map_offset(statement.quote_start)
        margin = _DRIFT_MARGIN_CHARS + len(statement.quote)
        window_start = max(0, expected_start - margin)
        window = new_text[window_start : expected_start + margin]
        closest = closest_passage(window, statement.quote)
        if closest is None:
            return None, 0.0
        start, end = _best_bounds(
            new_text, statement.quote, window_start + closest["start"], window_start + closest["end"]
        )
    anchor = anchor_at(new_text, start, end)
    score = _QUOTE_WEIGHT * _similarity(statement.quote, anchor.exact) + (1 - _QUOTE_WEIGHT) * _context_similarity(
        statement, anchor
    )
    return anchor, round(score, 3)


def _reanchor(
    session: Session, statement: Statement, new: Source, alignment: Alignment, *, threshold: float, actor: str
) -> Anchoring:
    assert new.id is not None and statement.id is not None  # both stored
    row = Anchoring(
        source_id=new.id, statement_id=statement.id, outcome="", old_start=statement.quote_start,
        old_end=statement.quote_end,
    )  # fmt: skip
    expected_start = alignment.map_offset(statement.quote_start)
    exact = _exact_anchor(statement, new.text, expected_start)
    if exact is not None:
        row.outcome, row.new_start, row.new_end, row.similarity = AnchoringOutcome.anchored, exact.start, exact.end, 1.0
        move_quote(session, statement, new.id, exact, note=f"re-anchored on source {new.id}", actor=actor)
        return row
    close, score = _drifted_anchor(statement, new.text, alignment)
    row.similarity = score
    if close is not None and score >= threshold:
        row.outcome, row.new_start, row.new_end = AnchoringOutcome.drifted, close.start, close.end
    else:
        row.outcome = AnchoringOutcome.orphaned
    return row


def reanchor_statements(session: Session, new: Source, *, threshold: float, actor: str) -> list[Anchoring]:
    """Re-anchors every standing statement quoting the source `new` supersedes; the caller commits."""
    assert new.supersedes_id is not None
    old = get_source(session, new.supersedes_id)
    statements = (
        session.execute(
            select(Statement)
            .where(col(Statement.source_id) == old.id, col(Statement.retracted_at).is_(None))
            .order_by(col(Statement.id))
        )
        .scalars()
        .all()
    )
    if not statements:
        return []
    alignment = align(old.text, new.text)
    rows = [_reanchor(session, statement, new, alignment, threshold=threshold, actor=actor) for statement in statements]
    session.add_all(rows)
    return rows


def _report(source: Source, rows: list[Anchoring]) -> AnchoringReport:
    assert source.id is not None  # a stored source
    counts = AnchoringCounts()
    for row in rows:
        setattr(counts, row.outcome, getattr(counts, row.outcome) + 1)
    return AnchoringReport(
        source=source.id,
        supersedes=source.supersedes_id,
        counts=counts,
        outcomes=[outcome_public(row, source.text) for row in rows],
        pending=sum(is_pending(row) for row in rows),
    )


def store_source(session: Session, data: SourceCreate, *, threshold: float, actor: str) -> SourceCreated:
    """Stores a source and, when it supersedes another, re-anchors that one's quotes, in one transaction."""
    if data.supersedes is None:
        return SourceCreated(**source_public(create_source(session, data, actor=actor)).model_dump(), anchoring=None)
    try:
        source = add_source(session, data, actor=actor)
        rows = reanchor_statements(session, source, threshold=threshold, actor=actor)
        report = _report(source, rows)
        counts = {"supersedes": source.supersedes_id, **report.counts.model_dump()}
        unit_of_work.commit(
            session,
            audit=AuditEntry(actor, AuditEntity.source, report.source, AuditAction.anchor, after=counts),
            # Moved or flagged, every re-anchored statement's cell changes.
            statements=[row.statement_id for row in rows],
            refresh=[source],
        )
    except IntegrityError:
        # Only a concurrent version of the same source can collide here (one successor per source):
        # answer as if it had been stored first.
        session.rollback()
        refuse_a_second_successor(session, data.supersedes)
        raise
    return SourceCreated(**source_public(source).model_dump(), anchoring=report)


def anchoring_report(session: Session, source_id: int) -> AnchoringReport:
    source = get_source(session, source_id)
    rows = (
        session.execute(
            select(Anchoring)
            .where(col(Anchoring.source_id) == source_id)
            .order_by(col(Anchoring.statement_id), col(Anchoring.id))
        )
        .scalars()
        .all()
    )
    return _report(source, list(rows))
