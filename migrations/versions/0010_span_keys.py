"""Spans keyed by one integer (cell number and day), with a table of cells numbering them.

The spans are derived (see 0009): this migration drops them, creates the new tables empty and
records format 0, so `stancemap migrate` and server start-up rebuild them. The downgrade does the
same with revision 0009's table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_BUILT = sa.text("UPDATE projection SET format = 0 WHERE name = 'position_span'")


def upgrade() -> None:
    op.drop_table("position_span")
    op.create_table(
        "position_cell",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("party.id", name="fk_position_cell_party"), nullable=False),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issue.id", name="fk_position_cell_issue"), nullable=False),
        sa.UniqueConstraint("party_id", "issue_id", name="uq_position_cell_party_issue"),
    )
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
        sa.Column("cell", sa.LargeBinary(), nullable=True),
    )
    op.execute(_NOT_BUILT)


def downgrade() -> None:
    op.drop_table("position_span")
    op.drop_table("position_cell")
    op.create_table(
        "position_span",
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("party.id", name="fk_position_span_party"), primary_key=True),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issue.id", name="fk_position_span_issue"), primary_key=True),
        sa.Column("valid_from", sa.Date(), primary_key=True),
        sa.Column(
            "statement_id",
            sa.Integer(),
            sa.ForeignKey("statement.id", name="fk_position_span_statement"),
            nullable=True,
        ),
        sa.Column("cell", sa.LargeBinary(), nullable=True),
        sqlite_with_rowid=False,
    )
    op.execute(_NOT_BUILT)
