"""job.queue (the queue a job was sent to) and job.pending_key (coalescing: at most one pending
job per chapter or book, unique while the job is queued or running)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Jobs pending at upgrade time keep a NULL key: they finish as before, and new requests
    # coalesce among themselves. A unique constraint admits any number of NULLs on both SQLite
    # and PostgreSQL. On SQLite the batch recreates the table (ALTER cannot add a constraint).
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("pending_key", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_job_pending_key"), ["pending_key"])


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_job_pending_key"), type_="unique")
        batch_op.drop_column("pending_key")
        batch_op.drop_column("queue")
