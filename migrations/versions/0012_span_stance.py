"""Spans hold the stance in a column of its own, beside the whole cell as served (`cell`), which
now carries its party's and issue's slugs.

The spans are derived (see 0009): this migration drops them, creates the table again empty and
records format 0, so `stancemap migrate` and server start-up rebuild them. The downgrade does the
same with revision 0011's table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_BUILT = sa.text("UPDATE projection SET format = 0 WHERE name = 'position_span'")


def _create_spans(*cell_columns: sa.Column) -> None:
    op.create_table(
        "position_span",
        # INTEGER on SQLite makes the key the rowid: one B-tree, no second index.
        sa.Column(
            "span_key", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False
        ),
        sa.Column(
            "statement_id",
            sa.Integer(),
            sa.ForeignKey("statement.id", name="fk_position_span_statement"),
            nullable=True,
        ),
        *cell_columns,
    )


def upgrade() -> None:
    op.drop_table("position_span")
    _create_spans(sa.Column("stance", sa.String(16), nullable=True), sa.Column("cell", sa.LargeBinary(), nullable=True))
    op.execute(_NOT_BUILT)


def downgrade() -> None:
    op.drop_table("position_span")
    _create_spans(sa.Column("cell", sa.LargeBinary(), nullable=True))
    op.execute(_NOT_BUILT)
