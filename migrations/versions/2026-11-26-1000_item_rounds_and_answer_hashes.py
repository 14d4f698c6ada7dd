"""Work items get a round number; judgements keep a hash of the answer they stored.

``work_items.round``: 1 for a prompt's first item, +1 for each later round of
completions (re-sampling from a newer model), so a new round reaches the queue as a
new item and exports can tell the rounds apart.

``<judgement>.body_hash``: SHA-256 of the submitted answer (without the idempotency key
and the time spent), so a retry with the same key replays the first answer while the
same key with a different answer is refused. Rows stored before this migration have
none and replay as before.

Revision ID: 3b8e6f1a2c47
Revises: 7d2f4a9c1e35
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8e6f1a2c47"
down_revision: str | None = "7d2f4a9c1e35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JUDGEMENT_TABLES = ("prompt_submissions", "demonstrations", "rankings", "pairwise_judgements")


def upgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
    for table in JUDGEMENT_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("body_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in JUDGEMENT_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("body_hash")
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("round")
