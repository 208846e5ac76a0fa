"""The story bible: entities, their names, mentions per chapter, facts with quotes, and the
extraction state of each chapter

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bible_entity",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["book.id"],
            name=op.f("fk_bible_entity_book_id_book"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bible_entity")),
    )
    op.create_index(op.f("ix_bible_entity_book_id"), "bible_entity", ["book_id"], unique=False)

    op.create_table(
        "bible_alias",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"], ["book.id"], name=op.f("fk_bible_alias_book_id_book"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["bible_entity.id"],
            name=op.f("fk_bible_alias_entity_id_bible_entity"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bible_alias")),
        sa.UniqueConstraint("book_id", "key", name="uq_bible_alias_book_key"),
    )
    op.create_index(op.f("ix_bible_alias_book_id"), "bible_alias", ["book_id"], unique=False)
    op.create_index(op.f("ix_bible_alias_entity_id"), "bible_alias", ["entity_id"], unique=False)

    op.create_table(
        "bible_mention",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("chapter_id", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alias_id"],
            ["bible_alias.id"],
            name=op.f("fk_bible_mention_alias_id_bible_alias"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chapter_id"],
            ["chapter.id"],
            name=op.f("fk_bible_mention_chapter_id_chapter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias_id", "chapter_id", name=op.f("pk_bible_mention")),
    )
    op.create_index(
        op.f("ix_bible_mention_chapter_id"), "bible_mention", ["chapter_id"], unique=False
    )

    op.create_table(
        "bible_fact",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("chapter_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("story_time", sa.String(length=120), nullable=True),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("quote_start", sa.Integer(), nullable=False),
        sa.Column("quote_end", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("intentional", sa.Boolean(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"], ["book.id"], name=op.f("fk_bible_fact_book_id_book"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chapter_id"],
            ["chapter.id"],
            name=op.f("fk_bible_fact_chapter_id_chapter"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["bible_entity.id"],
            name=op.f("fk_bible_fact_entity_id_bible_entity"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bible_fact")),
    )
    for column in ("book_id", "chapter_id", "entity_id"):
        op.create_index(op.f(f"ix_bible_fact_{column}"), "bible_fact", [column], unique=False)

    op.create_table(
        "bible_extraction",
        sa.Column("chapter_id", sa.String(length=64), nullable=False),
        sa.Column("book_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("extractor_version", sa.String(length=32), nullable=False),
        sa.Column("used_llm", sa.Boolean(), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("facts", sa.Integer(), nullable=False),
        sa.Column("dropped_quotes", sa.Integer(), nullable=False),
        sa.Column("extracted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["book.id"],
            name=op.f("fk_bible_extraction_book_id_book"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chapter_id"],
            ["chapter.id"],
            name=op.f("fk_bible_extraction_chapter_id_chapter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chapter_id", name=op.f("pk_bible_extraction")),
    )
    op.create_index(
        op.f("ix_bible_extraction_book_id"), "bible_extraction", ["book_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_bible_extraction_book_id"), table_name="bible_extraction")
    op.drop_table("bible_extraction")
    for column in ("book_id", "chapter_id", "entity_id"):
        op.drop_index(op.f(f"ix_bible_fact_{column}"), table_name="bible_fact")
    op.drop_table("bible_fact")
    op.drop_index(op.f("ix_bible_mention_chapter_id"), table_name="bible_mention")
    op.drop_table("bible_mention")
    op.drop_index(op.f("ix_bible_alias_entity_id"), table_name="bible_alias")
    op.drop_index(op.f("ix_bible_alias_book_id"), table_name="bible_alias")
    op.drop_table("bible_alias")
    op.drop_index(op.f("ix_bible_entity_book_id"), table_name="bible_entity")
    op.drop_table("bible_entity")
