"""Evidence tally (statements per party × issue × month) and covering indexes for the matrix.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _month(day: date) -> date:
    return day.replace(day=1)


def upgrade() -> None:
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
    op.create_index("ix_statement_stated_on_cell", "statement", ["stated_on", "party_id", "issue_id"])
    op.create_index("ix_statement_retracted_on", "statement", ["retracted_on"])
    # Covering: a cell's newest standing statement is found without reading statement rows.
    op.drop_index("ix_statement_party_issue_stated_on", table_name="statement")
    op.create_index(
        "ix_statement_cell_stated_on", "statement", ["party_id", "issue_id", "stated_on", "id", "retracted_on"]
    )

    # Backfill from the statements already stored.
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
        stated[(party_id, issue_id, _month(stated_on))] += 1
        if retracted_on is not None:
            retracted[(party_id, issue_id, _month(retracted_on))] += 1
    keys = sorted(set(stated) | set(retracted))
    if keys:
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
                for p, i, m in keys
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_statement_cell_stated_on", table_name="statement")
    op.create_index("ix_statement_party_issue_stated_on", "statement", ["party_id", "issue_id", "stated_on"])
    op.drop_index("ix_statement_retracted_on", table_name="statement")
    op.drop_index("ix_statement_stated_on_cell", table_name="statement")
    op.drop_table("evidence_tally")
