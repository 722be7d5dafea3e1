"""Webhooks get a description: what receives the events, for the admins who list them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook", sa.Column("description", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook") as batch:
        batch.drop_column("description")
