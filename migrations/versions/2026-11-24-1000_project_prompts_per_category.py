"""Projects: prompts_per_category, how many prompts a prompt-writing project asks per category.

Revision ID: 5c1e2d7b9a40
Revises: a3412f3a1fdd
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e2d7b9a40"
down_revision: str | None = "a3412f3a1fdd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("prompts_per_category", sa.Integer(), server_default="10", nullable=False)
        )
        batch.create_check_constraint(
            "prompts_per_category_range",
            "prompts_per_category >= 1 AND prompts_per_category <= 10000",
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_constraint(op.f("ck_projects_prompts_per_category_range"), type_="check")
        batch.drop_column("prompts_per_category")
