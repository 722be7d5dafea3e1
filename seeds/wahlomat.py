"""Loads the Wahl-O-Mat of the 2017 German federal election through the same services the API
uses: 32 parties, 38 issues (the theses), one source per party holding its answers and
justifications, and one statement per answer quoting the party's justification.
Running it again changes nothing.

The data (seeds/wahlomat/, byte for byte) is the Bundeszentrale für politische Bildung's published
comparison of positions, converted to JSON by github.com/gockelhahn/qual-o-mat-data; its README
names the files and the origin. The texts belong to the parties.

A party's source text lists every thesis with the party's answer and justification:

    These 1: Bundeswehr im Inneren
    Bei der Terrorismusbekämpfung soll die Bundeswehr im Inland eingesetzt werden dürfen.
    Antwort: Stimme zu. Begründung: "Bei der Abwehr eines besonders schweren Terrorangriffs …"

The statement quotes the justification without the converter's enclosing quotation marks. Where
the party gave none, it quotes the answer (`Antwort: Stimme zu.`); where the justification is a
word or two, the answer together with it, so the quote still says what the party answered.
"""

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.models.common import Stance
from app.models.issue import IssueCreate
from app.models.party import PartyCreate, PartyKind
from app.models.source import Source, SourceCreate, SourceKind
from app.models.statement import Statement, StatementCreate
from app.services.issues import issues
from app.services.parties import parties
from app.services.sources import create_source, text_sha256
from app.services.statements import create_statement
from seeds.loader import SeedReport

WAHLOMAT_DIR = Path(__file__).parent / "wahlomat"
SEED_ACTOR = "seed"
# The day the Wahl-O-Mat for the 2017 Bundestag election went online, with the parties' answers.
PUBLISHED_AT = datetime(2017, 8, 30, tzinfo=UTC)
PUBLISHER = "Bundeszentrale für politische Bildung"
# answer.json: 0 "Stimme zu", 1 "Stimme nicht zu", 2 "Neutral".
STANCES = {0: Stance.support, 1: Stance.oppose, 2: Stance.neutral}
# The converter's text where a party gave no justification: not the party's words.
NO_JUSTIFICATION = "Zu dieser These hat die Partei keine Begründung vorgelegt."
# Shorter justifications ("Vertragsfreiheit") are quoted with the answer they justify.
MIN_JUSTIFICATION_CHARS = 20


@dataclass(frozen=True)
class Answer:
    """One party's answer to one thesis, as the statement that records it will quote it."""

    party: str  # slug
    issue: str  # slug
    stance: Stance
    summary: str
    quote: str
    start: int  # of the quote in the party's source text


@dataclass(frozen=True)
class PartyDocument:
    party: PartyCreate
    source: SourceCreate
    answers: list[Answer]


def _read(name: str, directory: Path) -> Any:
    return json.loads((directory / name).read_text(encoding="utf-8"))


_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def slugify(name: str) -> str:
    """`CDU/CSU` -> `cdu-csu`, `GRÜNE` -> `gruene`, `V-Partei³` -> `v-partei3`."""
    ascii_text = unicodedata.normalize("NFKD", name.lower().translate(_TRANSLITERATION))
    words = "".join(char if char.isascii() and char.isalnum() else " " for char in ascii_text).split()
    return "-".join(words)


def _justification(comment: str) -> str:
    """The party's words: the comment without the quotation marks the converter put around it."""
    if len(comment) >= 2 and comment[0] == comment[-1] == '"':
        return comment[1:-1].strip()
    return comment.strip()


def read_wahlomat(directory: Path = WAHLOMAT_DIR) -> tuple[list[IssueCreate], list[PartyDocument]]:
    """The data set as the issues to create and, per party, its source and answers."""
    overview = _read("overview.json", directory)
    answer_messages = {entry["id"]: entry["message"] for entry in _read("answer.json", directory)}
    theses = _read("statement.json", directory)
    comments = {entry["id"]: entry["text"] for entry in _read("comment.json", directory)}
    opinions: dict[tuple[int, int], dict[str, Any]] = {
        (entry["party"], entry["statement"]): entry for entry in _read("opinion.json", directory)
    }
    issue_slugs = [slugify(thesis["label"]) for thesis in theses]
    issue_list = [
        IssueCreate(
            slug=slug,
            title=thesis["label"],
            proposition=thesis["text"],
            description=f"Wahl-O-Mat {overview['title']} {overview['date'][:4]}, These {number}.",
        )
        for number, (slug, thesis) in enumerate(zip(issue_slugs, theses, strict=True), start=1)
    ]
    documents = []
    for entry in _read("party.json", directory):
        slug = slugify(entry["name"])
        lines = [f"Wahl-O-Mat {overview['title']} {overview['date'][:4]}: {entry['longname']} ({entry['name']})", ""]
        answers = []
        offset = sum(len(line) + 1 for line in lines)
        for number, (issue_slug, thesis) in enumerate(zip(issue_slugs, theses, strict=True), start=1):
            opinion = opinions[(entry["id"], thesis["id"])]
            message = answer_messages[opinion["answer"]]
            comment = comments[opinion["comment"]]
            head = [f"These {number}: {thesis['label']}", thesis["text"]]
            offset += sum(len(line) + 1 for line in head)
            answer_line = f"Antwort: {message}. Begründung: {comment}"
            justification = _justification(comment)
            if comment == NO_JUSTIFICATION or not justification:
                quote, start = f"Antwort: {message}.", offset
            elif len(justification) < MIN_JUSTIFICATION_CHARS:
                quote, start = answer_line, offset
            else:
                quote, start = justification, offset + answer_line.index(justification)
            answers.append(
                Answer(
                    party=slug,
                    issue=issue_slug,
                    stance=STANCES[opinion["answer"]],
                    summary=f"{message}: {thesis['text']}",
                    quote=quote,
                    start=start,
                )
            )
            lines += [*head, answer_line, ""]
            offset += len(answer_line) + 2
        party = PartyCreate(
            slug=slug,
            name=entry["name"],
            kind=PartyKind.political_party,
            description=entry["longname"],
            aliases=[entry["longname"]] if entry["longname"] != entry["name"] else [],
        )
        source = SourceCreate(
            title=f"Wahl-O-Mat {overview['title']} {overview['date'][:4]}: Antworten und Begründungen, {entry['name']}",
            title_is_editorial=True,
            publisher=PUBLISHER,
            kind=SourceKind.statement,
            language="de",
            url=overview["data_source"],
            published_at=PUBLISHED_AT,
            text="\n".join(lines),
        )
        documents.append(PartyDocument(party=party, source=source, answers=answers))
    return issue_list, documents


def load_wahlomat(session: Session, directory: Path = WAHLOMAT_DIR) -> SeedReport:
    """Creates whatever of the data set is missing; what is present (by slug, by the source's
    sha256, and a statement by party, issue, source and quote offset) is left as it is."""
    issue_list, documents = read_wahlomat(directory)
    report = SeedReport()
    for document in documents:
        exists = parties.find(session, document.party.slug) is not None
        if not exists:
            parties.create(session, document.party, actor=SEED_ACTOR)
        report.count("parties", not exists)
    for issue in issue_list:
        exists = issues.find(session, issue.slug) is not None
        if not exists:
            issues.create(session, issue, actor=SEED_ACTOR)
        report.count("issues", not exists)
    for document in documents:
        assert document.source.text is not None  # built above
        digest = text_sha256(document.source.text)
        source = session.execute(select(Source).where(col(Source.sha256) == digest)).scalars().first()
        report.count("sources", source is None)
        if source is None:
            source = create_source(session, document.source, actor=SEED_ACTOR)
        assert source.id is not None  # a stored source
        present = _quoted_offsets(session, source.id)
        for answer in document.answers:
            exists = answer.start in present
            if not exists:
                statement = StatementCreate(
                    party=answer.party,
                    issue=answer.issue,
                    source=source.id,
                    quote=answer.quote,
                    start=answer.start,
                    stance=answer.stance,
                    summary=answer.summary,
                )
                create_statement(session, statement, actor=SEED_ACTOR)
            report.count("statements", not exists)
    return report


def _quoted_offsets(session: Session, source_id: int) -> set[int]:
    """Where the statements quoting a party's source start: one answer each, at its own offset.
    Later corrections by editors keep a statement present."""
    query = select(col(Statement.quote_start)).where(col(Statement.source_id) == source_id)
    return set(session.execute(query).scalars())
