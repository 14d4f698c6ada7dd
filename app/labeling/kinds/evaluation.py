"""Evaluation: a blind pairwise comparison between the answers of two model versions on
a held-out prompt set (InstructGPT's human evaluation); win rates and Bradley–Terry
ratings are computed from these judgements in app/evaluations/. The labeler's task is
the pairwise one, model names hidden; only the kind differs."""

from __future__ import annotations

from app.labeling.kinds.pairwise import Pairwise
from app.models import TaskKind


class Evaluation(Pairwise):
    task_kind = TaskKind.evaluation


KIND = Evaluation()
