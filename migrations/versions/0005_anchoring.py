"""Re-anchoring: where each quote of a superseded source landed in the source that supersedes it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "anchoring",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", name="fk_anchoring_source"), nullable=False),
        sa.Column(
            "statement_id", sa.Integer(), sa.ForeignKey("statement.id", name="fk_anchoring_statement"), nullable=False
        ),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("old_start", sa.Integer(), nullable=False),
        sa.Column("old_end", sa.Integer(), nullable=False),
        sa.Column("new_start", sa.Integer(), nullable=True),
        sa.Column("new_end", sa.Integer(), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_anchoring_source_id", "anchoring", ["source_id"])
    op.create_index("ix_anchoring_statement_id", "anchoring", ["statement_id"])


def downgrade() -> None:
    op.drop_table("anchoring")
