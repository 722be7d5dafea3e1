"""The search index: an FTS5 table on SQLite, a tsvector table with a GIN index on PostgreSQL.

The index is derived from statements, parties and issues (app/services/search_index.py). This
migration creates it empty and records format 0 ("not built"); `stancemap migrate` and server
start-up then build it with the code that searches it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROJECTION = sa.table("projection", sa.column("name", sa.String()), sa.column("format", sa.Integer()))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Stems arrive folded and stemmed; `_` is a token character: the gap between fields is
        # `_` alone, and filter tokens (`_party_3`) are one token each.
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5(en, de, facets, "
            "tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\")"
        )
    else:
        op.create_table(
            "search_index",
            sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("document", TSVECTOR(), nullable=False),
        )
        op.create_index("ix_search_index_document", "search_index", ["document"], postgresql_using="gin")
    op.bulk_insert(_PROJECTION, [{"name": "search_index", "format": 0}])


def downgrade() -> None:
    op.execute(_PROJECTION.delete().where(_PROJECTION.c.name == "search_index"))
    op.drop_table("search_index")
