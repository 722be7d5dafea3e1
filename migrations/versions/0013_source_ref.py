"""Sources keep the `ref` a bulk import gave them, so statements of later imports can name them by it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("source", sa.Column("ref", sa.String(200), nullable=True))
    op.create_index("ix_source_ref", "source", ["ref"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_source_ref", table_name="source")
    op.drop_column("source", "ref")
