"""Jobs: a job may wait for another (after_job_id); exports: status is a checked enum.

A training run started with "export now" waits for its export job. The wait is
now a column the claim query reads, so the run does not occupy a worker while
the export runs. The export status keeps its four values, now held by a CHECK
constraint like every other state column.

Revision ID: 9b4e6c2d7f18
Revises: 3b8e6f1a2c47
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b4e6c2d7f18"
down_revision: str | None = "3b8e6f1a2c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXPORT_STATUSES = ("pending", "running", "succeeded", "failed")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("after_job_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_jobs_after_job_id_jobs", "jobs", ["after_job_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_jobs_after_job_id", ["after_job_id"], unique=False)
    with op.batch_alter_table("exports") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.String(length=16),
            type_=sa.Enum(*EXPORT_STATUSES, name="export_status", native_enum=False,
                          create_constraint=False, length=32),
            existing_nullable=False,
        )
        batch.create_check_constraint(
            op.f("ck_exports_export_status"), sa.column("status").in_(EXPORT_STATUSES)
        )


def downgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.drop_constraint(op.f("ck_exports_export_status"), type_="check")
        batch.alter_column(
            "status",
            existing_type=sa.Enum(*EXPORT_STATUSES, name="export_status", native_enum=False,
                                  create_constraint=False, length=32),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_after_job_id")
        batch.drop_constraint("fk_jobs_after_job_id_jobs", type_="foreignkey")
        batch.drop_column("after_job_id")
