"""Former slugs of parties and issues: a renamed one keeps answering at its old address (a
redirect) and under its old slug as a value, and no other party or issue can take that slug.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNERS = ("party", "issue")


def upgrade() -> None:
    for owner in _OWNERS:
        table = f"{owner}_former_slug"
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column(f"{owner}_id", sa.Integer(), sa.ForeignKey(f"{owner}.id"), nullable=False),
            sa.Column("slug", sa.String(64), nullable=False),
            sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index(f"ix_{table}_slug", table, ["slug"], unique=True)
        op.create_index(f"ix_{table}_{owner}_id", table, [f"{owner}_id"])


def downgrade() -> None:
    for owner in _OWNERS:
        table = f"{owner}_former_slug"
        op.drop_index(f"ix_{table}_{owner}_id", table_name=table)
        op.drop_index(f"ix_{table}_slug", table_name=table)
        op.drop_table(table)
