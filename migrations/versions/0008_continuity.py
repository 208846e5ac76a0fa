"""The continuity audit: findings with the author's marks, and the chapter digests of the last
audit

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "continuity_finding",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=True),
        sa.Column("attribute", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("chapter_ids", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["book.id"],
            name=op.f("fk_continuity_finding_book_id_book"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continuity_finding")),
        sa.UniqueConstraint("book_id", "signature", name="uq_continuity_finding_book_signature"),
    )
    op.create_index(
        op.f("ix_continuity_finding_book_id"), "continuity_finding", ["book_id"], unique=False
    )
    op.create_table(
        "continuity_chapter",
        sa.Column("chapter_id", sa.String(length=64), nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("audited_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["book.id"],
            name=op.f("fk_continuity_chapter_book_id_book"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chapter_id"],
            ["chapter.id"],
            name=op.f("fk_continuity_chapter_chapter_id_chapter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chapter_id", name=op.f("pk_continuity_chapter")),
    )
    op.create_index(
        op.f("ix_continuity_chapter_book_id"), "continuity_chapter", ["book_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_continuity_chapter_book_id"), table_name="continuity_chapter")
    op.drop_table("continuity_chapter")
    op.drop_index(op.f("ix_continuity_finding_book_id"), table_name="continuity_finding")
    op.drop_table("continuity_finding")
