"""A source has at most one successor: its versions form a chain that re-anchoring follows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Fails, changing nothing, if some source already has two successors: an editor must decide
    # which branch is the document's history before upgrading.
    op.drop_index("ix_source_supersedes_id", table_name="source")
    op.create_index("ix_source_supersedes_id", "source", ["supersedes_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_source_supersedes_id", table_name="source")
    op.create_index("ix_source_supersedes_id", "source", ["supersedes_id"])
