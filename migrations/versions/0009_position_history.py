"""Position history replaces the evidence tally: each cell's position per stretch of dates.

The spans are derived from statements, sources and anchoring flags. This migration creates the
tables empty and records format 0 ("not built"); `stancemap migrate` (app.services.schema.upgrade)
and server start-up then build them with the code that serves them
(app.services.position_history.ensure_current), which is also what rebuilds them whenever
that code's format changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    projection = op.create_table(
        "projection",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("format", sa.Integer(), nullable=False),
    )
    op.bulk_insert(projection, [{"name": "position_span", "format": 0}])
    op.drop_table("evidence_tally")


def downgrade() -> None:
    op.drop_table("projection")
    op.drop_table("position_span")
    tally = op.create_table(
        "evidence_tally",
        sa.Column(
            "party_id", sa.Integer(), sa.ForeignKey("party.id", name="fk_evidence_tally_party"), primary_key=True
        ),
        sa.Column(
            "issue_id", sa.Integer(), sa.ForeignKey("issue.id", name="fk_evidence_tally_issue"), primary_key=True
        ),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("stated", sa.Integer(), nullable=False),
        sa.Column("retracted", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )
    # Statements and retractions per cell and calendar month, as revision 0008 kept them.
    statement = sa.table(
        "statement",
        sa.column("party_id", sa.Integer()),
        sa.column("issue_id", sa.Integer()),
        sa.column("stated_on", sa.Date()),
        sa.column("retracted_on", sa.Date()),
    )
    stated: Counter[tuple[int, int, date]] = Counter()
    retracted: Counter[tuple[int, int, date]] = Counter()
    rows = op.get_bind().execute(
        sa.select(statement.c.party_id, statement.c.issue_id, statement.c.stated_on, statement.c.retracted_on)
    )
    for party_id, issue_id, stated_on, retracted_on in rows:
        stated[(party_id, issue_id, stated_on.replace(day=1))] += 1
        if retracted_on is not None:
            retracted[(party_id, issue_id, retracted_on.replace(day=1))] += 1
    months = sorted(set(stated) | set(retracted))
    if months:
        op.bulk_insert(
            tally,
            [
                {
                    "party_id": p,
                    "issue_id": i,
                    "month": m,
                    "stated": stated[(p, i, m)],
                    "retracted": retracted[(p, i, m)],
                }
                for p, i, m in months
            ],
        )
