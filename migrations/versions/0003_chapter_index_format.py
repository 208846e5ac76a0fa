"""chapter.index_format: how the chapter's memory passages were made (memory.chunking.INDEX_FORMAT),
so a plain reindex rebuilds chapters indexed before the chunking changed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows stay NULL: indexed before the format was recorded, so rebuilt on reindex.
    with op.batch_alter_table("chapter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("index_format", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chapter", schema=None) as batch_op:
        batch_op.drop_column("index_format")
