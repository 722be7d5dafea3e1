"""Parties and issues: catalog entries addressed by slug, with the same lifecycle."""

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col

from app.errors import Conflict, InvalidField, NotFound, SlugRenamed
from app.models.audit import AuditAction, AuditEntity
from app.models.common import PatchModel, utcnow
from app.models.statement import Statement
from app.services import unit_of_work
from app.services.audit import AuditEntry
from app.services.data_version import wait_for_other_writers
from app.services.pagination import Sorting, Window, paginate
from app.services.positions import CellKey
from app.services.slugs import FORMER_SLUGS, former_owners, slug_from_name

Entry = TypeVar("Entry", bound=SQLModel)


class SlugCatalog(Generic[Entry]):
    """Create, read, update, list and delete for a table with a unique `slug`. Like every write,
    these bump the data version. Stored matrix cells carry their party's and issue's slugs and no
    other field of them, so a new slug rebuilds the entry's cells, and nothing else does.

    `referenced_by` names the statement columns that point at an entry: an entry they reference
    cannot be deleted, so no statement loses its party or issue; its cells are those of the
    statements they point from.

    An entry created without a slug gets one made from its `name_field` (app/services/slugs.py).
    A renamed entry keeps its former slugs: addressed by one (`get`), it answers with where it is
    now (`SlugRenamed`, a redirect); given one as a value (`resolve`), it is found; and no other
    entry may take one.
    """

    def __init__(
        self,
        model: type[Entry],
        public: type[SQLModel],
        noun: str,
        *,
        referenced_by: list[Any],
        sorting: Sorting,
        name_field: str,
    ) -> None:
        self.model = model
        self.public = public
        self.noun = noun
        self.referenced_by = referenced_by
        self.sorting = sorting
        self.name_field = name_field
        self.former = FORMER_SLUGS[model]

    def _audit_entry(self, actor: str, slug: str, action: AuditAction, before: Any, after: Any) -> AuditEntry:
        return AuditEntry(
            actor,
            AuditEntity(self.noun),
            slug,
            action,
            before=before and self.public.model_validate(before),
            after=after and self.public.model_validate(after),
        )

    def find(self, session: Session, slug: str | None) -> Entry | None:
        """The entry whose slug is `slug` now; None for None (a body without a slug names a new entry)."""
        if slug is None:
            return None
        return session.execute(select(self.model).where(self.model.slug == slug)).scalars().first()  # type: ignore[attr-defined]  # Entry is bound to SQLModel, which has no slug; every catalog's model has one

    def formerly_id(self, session: Session, slug: str) -> int | None:
        """The id of the entry that had `slug` before it was renamed, if one did."""
        return former_owners(session, self.model, [slug]).get(slug)

    def _formerly(self, session: Session, slug: str) -> Entry | None:
        """The entry that had `slug` before it was renamed, if one did."""
        owner = self.formerly_id(session, slug)
        return None if owner is None else session.get(self.model, owner)

    def get(self, session: Session, slug: str) -> Entry:
        """The entry a path addresses by `slug`; SlugRenamed when that was its slug before a rename."""
        entry = self.find(session, slug)
        if entry is None:
            renamed = self._formerly(session, slug)
            if renamed is not None:
                raise SlugRenamed(self.noun, slug, renamed.slug)  # type: ignore[attr-defined]  # every catalog's model has a slug
            # The documented 404 example (app/models/examples.py, openapi.json) carries this text.
            raise NotFound(
                f"No {self.noun} has the slug '{slug}'; the list of {self.noun_plural} shows those that exist."
            )
        return entry

    def resolve(self, session: Session, slug: str, field: str) -> Entry:
        """The entry a slug given as the value of `field` names, a former slug too; an unknown one is
        an invalid field, not a missing entry."""
        entry = self.find(session, slug) or self._formerly(session, slug)
        if entry is None:
            raise InvalidField(field, f"No {self.noun} has the slug '{slug}'; create it first or fix the slug.")
        return entry

    @property
    def noun_plural(self) -> str:
        return "parties" if self.noun == "party" else f"{self.noun}s"

    def list(self, session: Session, *, limit: int, cursor: str | None, sort: str | None = None) -> Window[Entry]:
        order = self.sorting.order(sort)
        return paginate(session, select(self.model), self.model.id, limit=limit, cursor=cursor, order=order)  # type: ignore[attr-defined]  # every catalog's model has an id; SQLModel, Entry's bound, does not

    def create(self, session: Session, data: SQLModel, *, actor: str) -> Entry:
        values = data.model_dump()
        if values.get("slug") is None:
            wait_for_other_writers(session)  # two entries of the same name made at once get two slugs
            values["slug"] = slug_from_name(session, self.model, values[self.name_field])
        else:
            self._ensure_slug_free(session, values["slug"])
        entry = self.model(**values)
        session.add(entry)
        self._commit(
            session, self._audit_entry(actor, values["slug"], AuditAction.create, None, entry), entry, values["slug"]
        )
        return entry

    def update(self, session: Session, slug: str, changes: PatchModel, *, actor: str) -> Entry:
        entry = self.get(session, slug)
        before = self.public.model_validate(entry)
        values = changes.changes()
        new_slug = values.get("slug")
        cells: set[CellKey] = set()
        if new_slug is not None and new_slug != slug:
            entry_id = entry.id  # type: ignore[attr-defined]  # every catalog's model has an id; SQLModel, Entry's bound, does not
            self._ensure_slug_free(session, new_slug, renaming=entry_id)
            # Stored cells carry the slug. Read before the entry changes: no flush may raise outside `_commit`.
            cells = self._cells_of(session, entry_id)
            self._keep_former_slug(session, entry_id, slug, new_slug)
        for name, value in values.items():
            setattr(entry, name, value)
        if values:
            entry.updated_at = utcnow()
            session.add(entry)
            audit = self._audit_entry(actor, slug, AuditAction.update, before, entry)
            self._commit(session, audit, entry, new_slug or slug, cells=cells)
        return entry

    def delete(self, session: Session, slug: str, *, actor: str) -> None:
        entry = self.get(session, slug)
        entry_id = entry.id  # type: ignore[attr-defined]  # every catalog's model has an id; SQLModel, Entry's bound, does not
        for column in self.referenced_by:
            if session.execute(select(exists().where(column == entry_id))).scalar():
                raise Conflict(
                    f"The {self.noun} '{slug}' is referenced by statements and cannot be deleted; "
                    "retract or correct those statements instead."
                )
        audit = self._audit_entry(actor, slug, AuditAction.delete, entry, None)
        session.execute(delete(self.former.table).where(self.former.owner == entry_id))
        session.delete(entry)
        parties, issues = self._searched(entry_id)
        unit_of_work.commit(session, audit=audit, parties=parties, issues=issues)

    def _cells_of(self, session: Session, entry_id: int) -> set[CellKey]:
        """The (party, issue) cells of the statements that point at the entry."""
        points_at_entry = or_(*(column == entry_id for column in self.referenced_by))
        query = select(col(Statement.party_id), col(Statement.issue_id)).distinct().where(points_at_entry)
        return {(party_id, issue_id) for party_id, issue_id in session.execute(query).all()}

    def _searched(self, entry_id: int) -> tuple[Iterable[int], Iterable[int]]:
        """The entry as the unit of work names it for the search index: (parties, issues)."""
        return ([entry_id], []) if self.noun == "party" else ([], [entry_id])

    def _ensure_slug_free(self, session: Session, slug: str, *, renaming: int | None = None) -> None:
        """Refuses a slug another entry has, or had: a former slug keeps leading to its entry, which
        alone may take it back (`renaming`: the id of the entry being renamed)."""
        # Held until the commit: a rename recording its former slug cannot slip in after this check.
        wait_for_other_writers(session)
        if self.find(session, slug) is not None:
            raise Conflict(f"A {self.noun} with the slug '{slug}' already exists.")
        renamed = self._formerly(session, slug)
        if renamed is not None and renamed.id != renaming:  # type: ignore[attr-defined]  # every catalog's model has an id
            raise Conflict(
                f"The slug '{slug}' belonged to the {self.noun} now called '{renamed.slug}' (its former slug "  # type: ignore[attr-defined]  # every catalog's model has a slug
                f"still leads there), so no other {self.noun} can take it; choose another."
            )

    def _keep_former_slug(self, session: Session, entry_id: int, old_slug: str, new_slug: str) -> None:
        """The old slug keeps leading to the entry; a former slug of its own it takes back is current again."""
        table = self.former.table
        session.execute(delete(table).where(table.slug == new_slug))  # type: ignore[attr-defined]  # every former-slug table has a slug
        session.add(table(slug=old_slug, **{self.former.owner.key: entry_id}))

    def _commit(
        self, session: Session, audit: AuditEntry, entry: Entry, slug: str, *, cells: Iterable[CellKey] = ()
    ) -> None:
        try:
            session.flush()  # a new entry's id, which its search document is keyed by
            parties, issues = self._searched(entry.id)  # type: ignore[attr-defined]  # every catalog's model has an id; SQLModel, Entry's bound, does not
            unit_of_work.commit(session, audit=audit, refresh=[entry], cells=cells, parties=parties, issues=issues)
        except IntegrityError as error:  # a concurrent writer took the slug between check and commit
            session.rollback()
            raise Conflict(f"A {self.noun} with the slug '{slug}' already exists.") from error
