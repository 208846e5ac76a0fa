"""Notes on story bible entities (imported lorebook text, which quotes no chapter)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bible_note",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["book.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["bible_entity.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bible_note_book_id", "bible_note", ["book_id"])
    op.create_index("ix_bible_note_entity_id", "bible_note", ["entity_id"])


def downgrade() -> None:
    op.drop_index("ix_bible_note_entity_id", table_name="bible_note")
    op.drop_index("ix_bible_note_book_id", table_name="bible_note")
    op.drop_table("bible_note")
