"""Slugs: made from a name when none is given, and kept after a rename.

A slug made from a name is readable ASCII: German umlauts and ß are written out (ä -> ae,
ß -> ss), other accents are dropped (é -> e), other scripts are transliterated (Россия ->
rossiya), everything but letters and digits separates words, and a slug another party (or issue)
has, or had, gets `-2`, `-3`, ... A renamed party or issue keeps its former slugs (see
app/models/former_slug.py); they stay reserved for it.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count
from typing import Any

from anyascii import anyascii
from sqlalchemy import select, union_all
from sqlmodel import Session, SQLModel, col

from app.models.former_slug import IssueFormerSlug, PartyFormerSlug
from app.models.issue import Issue
from app.models.party import Party

MAX_SLUG_LENGTH = 64
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"})
_WORD = re.compile(r"[a-z0-9]+")
# Suffixes tried per query when a slug is taken: one round trip finds a free one in most cases.
_SUFFIX_BATCH = 20


@dataclass(frozen=True)
class FormerSlugs:
    """Where the former slugs of one kind of entry are kept, and the column naming their entry."""

    table: type[SQLModel]
    owner: Any


FORMER_SLUGS: dict[type[SQLModel], FormerSlugs] = {
    Party: FormerSlugs(PartyFormerSlug, col(PartyFormerSlug.party_id)),
    Issue: FormerSlugs(IssueFormerSlug, col(IssueFormerSlug.issue_id)),
}


def slug_text(name: str) -> str:
    """The slug a name reads as, without regard to what is taken; empty when nothing of it is a
    letter or digit in any script."""
    ascii_text = anyascii(unicodedata.normalize("NFC", name).translate(_GERMAN)).lower()
    return _shortened("-".join(_WORD.findall(ascii_text)), MAX_SLUG_LENGTH)


def _shortened(slug: str, length: int) -> str:
    """At most `length` characters, cut between words where the first word allows."""
    if len(slug) <= length or slug[length] == "-":
        return slug[:length]
    head, hyphen, _ = slug[:length].rpartition("-")
    return head if hyphen else slug[:length]


def slug_from_name(session: Session, model: type[SQLModel], name: str) -> str:
    """A slug for a new `model` (Party or Issue) named `name`: `slug_text(name)` (the model's
    table name, `party` or `issue`, when that is empty), with `-2`, `-3`, ... when another one has
    or had it. Rows added to the session count (it autoflushes); uncommitted rows of other
    transactions do not, and a clash with one is refused when the second commits."""
    base = slug_text(name) or str(model.__tablename__)
    candidates: Iterable[str] = (
        base if number == 1 else f"{_shortened(base, MAX_SLUG_LENGTH - len(str(number)) - 1)}-{number}"
        for number in count(1)
    )
    iterator = iter(candidates)
    while True:
        batch = [next(iterator) for _ in range(_SUFFIX_BATCH)]
        taken = slugs_taken(session, model, batch)
        for candidate in batch:
            if candidate not in taken:
                return candidate


def slugs_taken(session: Session, model: type[SQLModel], slugs: list[str]) -> set[str]:
    """Which of `slugs` a `model` row has, or had before a rename."""
    former = FORMER_SLUGS[model]
    current = select(model.slug).where(model.slug.in_(slugs))  # type: ignore[attr-defined]  # Party and Issue have a slug; SQLModel does not
    before = select(former.table.slug).where(former.table.slug.in_(slugs))  # type: ignore[attr-defined]  # every former-slug table has one
    return set(session.execute(union_all(current, before)).scalars())


def former_owners(session: Session, model: type[SQLModel], slugs: list[str]) -> dict[str, int]:
    """The id of the `model` row each of `slugs` was the slug of before a rename, for those that were."""
    former = FORMER_SLUGS[model]
    query = select(former.table.slug, former.owner).where(former.table.slug.in_(slugs))  # type: ignore[attr-defined]  # every former-slug table has one
    return {slug: owner for slug, owner in session.execute(query).all()}


def current_slugs(session: Session, model: type[SQLModel], slugs: list[str]) -> dict[str, str]:
    """Each of `slugs` as the `model` row it names is called now: a former slug as the current
    one, any other slug as given."""
    owners = former_owners(session, model, slugs)
    now: dict[int, str] = {}
    if owners:
        entry: Any = model  # Party or Issue: both have an id and a slug, which SQLModel does not
        query = select(entry.id, entry.slug).where(entry.id.in_(owners.values()))
        now = {entry_id: slug for entry_id, slug in session.execute(query).all()}
    return {slug: now[owners[slug]] if slug in owners else slug for slug in slugs}
