"""Assignments: a public id for URLs, and an index for the labeler's queue frontier.

Revision ID: 7d2f4a9c1e35
Revises: 5c1e2d7b9a40
Create Date: 2026-11-24 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import new_public_id

revision: str = "7d2f4a9c1e35"
down_revision: str | None = "5c1e2d7b9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=16), nullable=True))
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM assignments"))]
    for assignment_id in ids:
        conn.execute(
            sa.text("UPDATE assignments SET public_id = :p WHERE id = :i"),
            {"p": new_public_id(), "i": assignment_id},
        )
    with op.batch_alter_table("assignments") as batch:
        batch.alter_column("public_id", existing_type=sa.String(length=16), nullable=False)
        batch.create_unique_constraint("uq_assignments_public_id", ["public_id"])
        batch.create_index(
            "ix_assignments_user_project_item", ["user_id", "project_id", "item_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_index("ix_assignments_user_project_item")
        batch.drop_constraint("uq_assignments_public_id", type_="unique")
        batch.drop_column("public_id")
