"""Quality control: settings, labeler standing, reviews, corrections, incremental figures.

- ``quality_settings``: gold rate, screening, gold thresholds, the correction window.
- ``labeler_quality``: a labeler's standing per project (screening, paused, …).
- ``judgement_reviews`` and ``judgement_revisions``: review verdicts, corrected versions.
- ``quality_state``, ``quality_items``, ``quality_bins``: the statistics the quality page
  reads, kept up to date incrementally (app/quality/service.py).
- ``work_items``: an index to find a project's gold items.
- ``users.role``: the new ``reviewer`` role (the CHECK constraint lists the roles).

Revision ID: 9a4c2e7f5b18
Revises: 9b4e6c2d7f18
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = "9a4c2e7f5b18"
down_revision: str | None = "9b4e6c2d7f18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = ("labeler", "admin", "engineer")
ROLES_AFTER = (*ROLES_BEFORE, "reviewer")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = app.models.base.UTCDateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _set_roles(roles: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{r}'" for r in roles)
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), sa.text(f"role IN ({listed})"))


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"], ["projects.id"], name=op.f(f"fk_{table}_project_id_projects"), ondelete="CASCADE"
    )


def upgrade() -> None:
    _set_roles(ROLES_AFTER)
    op.create_table(
        "quality_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("gold_rate", sa.Double(), nullable=False),
        sa.Column("require_screening", sa.Boolean(), nullable=False),
        sa.Column("screening_pass", sa.Double(), nullable=False),
        sa.Column("gold_min_accuracy", sa.Double(), nullable=False),
        sa.Column("gold_min_answers", sa.Integer(), nullable=False),
        sa.Column("pause_on_gold_failure", sa.Boolean(), nullable=False),
        sa.Column("correction_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint(
            "correction_minutes >= 0 AND correction_minutes <= 10080",
            name=op.f("ck_quality_settings_correction_minutes_range"),
        ),
        sa.CheckConstraint(
            "gold_min_accuracy >= 0 AND gold_min_accuracy <= 1",
            name=op.f("ck_quality_settings_gold_min_accuracy_range"),
        ),
        sa.CheckConstraint(
            "gold_min_answers >= 1 AND gold_min_answers <= 1000",
            name=op.f("ck_quality_settings_gold_min_answers_range"),
        ),
        sa.CheckConstraint("gold_rate >= 0 AND gold_rate <= 0.5", name=op.f("ck_quality_settings_gold_rate_range")),
        sa.CheckConstraint(
            "screening_pass >= 0 AND screening_pass <= 1", name=op.f("ck_quality_settings_screening_pass_range")
        ),
        _project_fk("quality_settings"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_quality_settings")),
    )
    op.create_table(
        "labeler_quality",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("standing", _enum("standing", "active", "screening", "failed_screening", "paused"), nullable=False),
        sa.Column("screening_correct", sa.Integer(), nullable=False),
        sa.Column("screening_answered", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_labeler_quality_decided_by_users"), ondelete="SET NULL"
        ),
        _project_fk("labeler_quality"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_labeler_quality_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_labeler_quality")),
    )
    op.create_table(
        "judgement_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("judgement_id", sa.Integer(), nullable=False),
        sa.Column("labeler_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("verdict", _enum("review_verdict", "accepted", "rejected"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["work_items.id"], name=op.f("fk_judgement_reviews_item_id_work_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["labeler_id"], ["users.id"], name=op.f("fk_judgement_reviews_labeler_id_users"), ondelete="CASCADE"
        ),
        _project_fk("judgement_reviews"),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_judgement_reviews_reviewer_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgement_reviews")),
        sa.UniqueConstraint(
            "project_id", "judgement_id", name=op.f("uq_judgement_reviews_project_id_judgement_id")
        ),
    )
    op.create_index("ix_judgement_reviews_item_id", "judgement_reviews", ["item_id"], unique=False)
    op.create_index(
        "ix_judgement_reviews_labeler_updated", "judgement_reviews", ["labeler_id", "updated_at"], unique=False
    )
    op.create_table(
        "judgement_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("judgement_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("answer", JSON, nullable=False),
        sa.Column("replaced_at", UTC, nullable=False),
        _project_fk("judgement_revisions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_judgement_revisions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgement_revisions")),
        sa.UniqueConstraint(
            "project_id", "judgement_id", "revision",
            name=op.f("uq_judgement_revisions_project_id_judgement_id_revision"),
        ),
    )
    op.create_table(
        "quality_state",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("counted_before", UTC, nullable=True),
        sa.Column("recent", JSON, nullable=False),
        sa.Column("refreshed_at", UTC, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _project_fk("quality_state"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_quality_state")),
    )
    op.create_table(
        "quality_items",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("judgements", JSON, nullable=False),
        sa.Column("labelers", sa.Integer(), nullable=False),
        sa.Column("agreed", sa.Integer(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("dispute", sa.Double(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["work_items.id"], name=op.f("fk_quality_items_item_id_work_items"), ondelete="CASCADE"
        ),
        _project_fk("quality_items"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_quality_items")),
    )
    op.create_index(
        "ix_quality_items_project_dispute", "quality_items", ["project_id", "dispute", "item_id"], unique=False
    )
    metrics = (
        "agree", "agree_day", "pair", "loo", "tau", "margin", "position", "length", "gold", "fast",
        "unusable", "seconds", "coincidence",
    )
    op.create_table(
        "quality_bins",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("metric", _enum("metric", *metrics), nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("other_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("a", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("c", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        _project_fk("quality_bins"),
        sa.PrimaryKeyConstraint(
            "project_id", "metric", "user_id", "other_id", "day", "a", "c", name=op.f("pk_quality_bins")
        ),
    )
    with op.batch_alter_table("work_items") as batch:
        batch.create_index("ix_work_items_gold", ["project_id", "is_gold"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.drop_index("ix_work_items_gold")
    op.drop_table("quality_bins")
    op.drop_index("ix_quality_items_project_dispute", table_name="quality_items")
    op.drop_table("quality_items")
    op.drop_table("quality_state")
    op.drop_table("judgement_revisions")
    op.drop_index("ix_judgement_reviews_labeler_updated", table_name="judgement_reviews")
    op.drop_index("ix_judgement_reviews_item_id", table_name="judgement_reviews")
    op.drop_table("judgement_reviews")
    op.drop_table("labeler_quality")
    op.drop_table("quality_settings")
    # Reviewers become labelers again: the older schema knows no other role for them.
    op.execute("UPDATE users SET role = 'labeler' WHERE role = 'reviewer'")
    _set_roles(ROLES_BEFORE)
