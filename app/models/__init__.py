"""Typed SQLAlchemy 2.0 models, one module per aggregate."""

from app.models.base import Base, new_public_id, utcnow
from app.models.judgements import (
    Demonstration,
    MarginLabel,
    PairwiseJudgement,
    PromptSubmission,
    Ranking,
    RankingEntry,
    RankingVerdict,
    Safety,
    Winner,
)
from app.models.operations import (
    AuditEntry,
    Export,
    ExportStatus,
    Job,
    JobKind,
    JobMetric,
    JobStatus,
)
from app.models.projects import (
    DEFAULT_CATEGORIES,
    DEFAULT_FLAGS,
    MarginScale,
    ModelKind,
    ModelVersion,
    Project,
    ProjectMember,
    TaskKind,
)
from app.models.prompts import Completion, Prompt
from app.models.queue import Assignment, AssignmentStatus, ItemCompletion, WorkItem
from app.models.users import ApiToken, Role, User, WebSession

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_FLAGS",
    "ApiToken",
    "Assignment",
    "AssignmentStatus",
    "AuditEntry",
    "Base",
    "Completion",
    "Demonstration",
    "Export",
    "ExportStatus",
    "ItemCompletion",
    "Job",
    "JobKind",
    "JobMetric",
    "JobStatus",
    "MarginLabel",
    "MarginScale",
    "ModelKind",
    "ModelVersion",
    "PairwiseJudgement",
    "Project",
    "ProjectMember",
    "Prompt",
    "PromptSubmission",
    "Ranking",
    "RankingEntry",
    "RankingVerdict",
    "Role",
    "Safety",
    "TaskKind",
    "User",
    "WebSession",
    "Winner",
    "WorkItem",
    "new_public_id",
    "utcnow",
]
