"""AI labelers: accounts of kind "ai", the model versions judging as them, the versions
of their constitutions and the provenance of each AI judgement.

- ``users.kind``: ``human`` (every existing account) or ``ai``.
- ``ai_labelers``: a model version attached to a project as a judge (app/ai_labeling).
- ``ai_constitutions``: every version of an AI labeler's principles.
- ``ai_judgements``: prompts, raw replies, soft preference and method of an AI judgement.

Revision ID: 5d0c8a3e71b4
Revises: 9a4c2e7f5b18
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = "5d0c8a3e71b4"
down_revision: str | None = "9a4c2e7f5b18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = app.models.base.UTCDateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("kind", _enum("user_kind", "human", "ai"), nullable=False,
                                   server_default="human"))
    op.create_table(
        "ai_labelers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("constitution", JSON, nullable=False),
        sa.Column("constitution_version", sa.Integer(), nullable=False),
        sa.Column("both_orders", sa.Boolean(), nullable=False),
        sa.Column("rationale", sa.Boolean(), nullable=False),
        sa.Column("ranking_method", _enum("ranking_method", "pairwise", "listwise"), nullable=False),
        sa.Column("max_tokens", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"],
                                name=op.f("fk_ai_labelers_model_version_id_model_versions"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_ai_labelers_project_id_projects"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_ai_labelers_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_labelers")),
        sa.UniqueConstraint("public_id", name=op.f("uq_ai_labelers_public_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_ai_labelers_user_id")),
    )
    op.create_index("ix_ai_labelers_project_id", "ai_labelers", ["project_id"], unique=False)
    op.create_table(
        "ai_constitutions",
        sa.Column("ai_labeler_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("principles", JSON, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["ai_labeler_id"], ["ai_labelers.id"],
                                name=op.f("fk_ai_constitutions_ai_labeler_id_ai_labelers"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_ai_constitutions_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("ai_labeler_id", "version", name=op.f("pk_ai_constitutions")),
    )
    op.create_table(
        "ai_judgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ai_labeler_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("judgement_public_id", sa.String(length=16), nullable=False),
        sa.Column("job_public_id", sa.String(length=16), nullable=True),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("constitution_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("p_a", sa.Double(), nullable=True),
        sa.Column("calls", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["ai_labeler_id"], ["ai_labelers.id"],
                                name=op.f("fk_ai_judgements_ai_labeler_id_ai_labelers"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["work_items.id"], name=op.f("fk_ai_judgements_item_id_work_items"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_ai_judgements_project_id_projects"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_judgements")),
        sa.UniqueConstraint("judgement_public_id", name=op.f("uq_ai_judgements_judgement_public_id")),
    )
    op.create_index("ix_ai_judgements_labeler_item", "ai_judgements", ["ai_labeler_id", "item_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ai_judgements_labeler_item", table_name="ai_judgements")
    op.drop_table("ai_judgements")
    op.drop_table("ai_constitutions")
    op.drop_index("ix_ai_labelers_project_id", table_name="ai_labelers")
    op.drop_table("ai_labelers")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_user_kind"), type_="check")
        batch.drop_column("kind")
