"""Stance store: parties, issues, sources, statements and their revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _quote_columns() -> list[sa.Column]:
    return [
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("quote_start", sa.Integer(), nullable=False),
        sa.Column("quote_end", sa.Integer(), nullable=False),
        sa.Column("quote_prefix", sa.String(length=128), nullable=False),
        sa.Column("quote_suffix", sa.String(length=128), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "party",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix_party_slug", "party", ["slug"], unique=True)

    op.create_table(
        "issue",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("proposition", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix_issue_slug", "issue", ["slug"], unique=True)

    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("title_is_editorial", sa.Boolean(), nullable=False),
        sa.Column("publisher", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        _timestamp("published_at"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "supersedes_id", sa.Integer(), sa.ForeignKey("source.id", name="fk_source_supersedes"), nullable=True
        ),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix_source_sha256", "source", ["sha256"])
    op.create_index("ix_source_supersedes_id", "source", ["supersedes_id"])

    op.create_table(
        "statement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("party.id", name="fk_statement_party"), nullable=False),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issue.id", name="fk_statement_issue"), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("source.id", name="fk_statement_source"), nullable=False),
        sa.Column("stance", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("speaker", sa.String(length=200), nullable=True),
        sa.Column("stated_on", sa.Date(), nullable=False),
        *_quote_columns(),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        _timestamp("recorded_at"),
        _timestamp("created_at"),
        _timestamp("retracted_at", nullable=True),
        sa.Column("retracted_on", sa.Date(), nullable=True),
        sa.Column("retracted_by", sa.String(length=100), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_statement_party_issue_stated_on", "statement", ["party_id", "issue_id", "stated_on"])
    op.create_index("ix_statement_issue_stated_on", "statement", ["issue_id", "stated_on"])
    op.create_index("ix_statement_source_id", "statement", ["source_id"])

    op.create_table(
        "statement_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "statement_id",
            sa.Integer(),
            sa.ForeignKey("statement.id", name="fk_statement_revision_statement"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "source_id", sa.Integer(), sa.ForeignKey("source.id", name="fk_statement_revision_source"), nullable=False
        ),
        sa.Column("stance", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("speaker", sa.String(length=200), nullable=True),
        sa.Column("stated_on", sa.Date(), nullable=False),
        *_quote_columns(),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        _timestamp("recorded_at"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("statement_id", "revision", name="uq_statement_revision_statement_revision"),
    )
    op.create_index("ix_statement_revision_source_id", "statement_revision", ["source_id"])


def downgrade() -> None:
    op.drop_table("statement_revision")
    op.drop_table("statement")
    op.drop_table("source")
    op.drop_table("issue")
    op.drop_table("party")
