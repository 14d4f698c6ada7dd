"""Active selection: a project's queue order, and each item's reward-model uncertainty.

- ``projects.queue_order``: ``oldest`` (every existing project) or ``uncertainty``.
- ``work_items.uncertainty``: the margin between the two best reward-model scores of the
  item's answers (app/labeling/active.py), with the index the queue walks.

Revision ID: c3e9a17b6d40
Revises: 5d0c8a3e71b4
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e9a17b6d40"
down_revision: str | None = "5d0c8a3e71b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column(
            "queue_order",
            sa.Enum("oldest", "uncertainty", name="queue_order", native_enum=False, create_constraint=True,
                    length=32),
            nullable=False, server_default="oldest"))
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("uncertainty", sa.Double(), nullable=True))
    op.create_index("ix_work_items_uncertainty", "work_items", ["project_id", "is_open", "uncertainty"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_work_items_uncertainty", table_name="work_items")
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("uncertainty")
    with op.batch_alter_table("projects") as batch:
        batch.drop_constraint(op.f("ck_projects_queue_order"), type_="check")
        batch.drop_column("queue_order")
