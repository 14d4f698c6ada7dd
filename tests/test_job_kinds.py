"""The table of job kinds and the layering it exists for."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys
import typing
from collections import Counter
from pathlib import Path

from app import job_kinds
from app.models import JobKind

ROOT = Path(__file__).resolve().parent.parent


class TestTheTable:
    def test_every_kind_has_a_runner_and_the_worker_table_is_keyed_by_its_stored_name(self) -> None:
        assert set(job_kinds.KINDS) == set(JobKind)
        assert set(job_kinds.RUNNERS) == {k.value for k in JobKind}

    def test_the_api_accepts_exactly_the_kinds_that_have_a_submit_function(self) -> None:
        (union, _discriminator) = typing.get_args(job_kinds.JobRequest)
        tags = {typing.get_args(body.model_fields["kind"].annotation)[0] for body in typing.get_args(union)}
        assert tags == {kind for kind, k in job_kinds.KINDS.items() if k.submit is not None}

    def test_every_runner_reaches_the_child_process_by_reference(self) -> None:
        for kind, runner in job_kinds.RUNNERS.items():
            assert pickle.loads(pickle.dumps(runner)) is runner, kind
            assert runner.__module__.startswith("app."), kind


class TestLayering:
    def test_the_queue_imports_no_domain_and_domains_import_each_other_without_cycles(self) -> None:
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_graph.py"), "--check"],
                              capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "the queue imports no domain" in done.stdout

    def test_the_web_side_of_the_job_kinds_never_imports_torch(self) -> None:
        # The web process reads the trainer's torch-free contract, stage table (names,
        # config dataclasses) and run-folder layout (checkpoints to resume from) and nothing
        # else of it: no loop, no torch, no transformers.
        code = ("import sys, app.job_kinds, app.main; "
                "print('torch' in sys.modules, 'transformers' in sys.modules); "
                "print(*sorted(m for m in sys.modules if m.startswith('trainer.')))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        heavy, trainer_modules = done.stdout.splitlines()
        assert heavy.split() == ["False", "False"]
        allowed = {"trainer.contract", "trainer.stages", "trainer.config", "trainer.run_folder"}
        assert all(m in allowed or m.endswith("_config") for m in trainer_modules.split())

    def test_the_graph_check_catches_a_queue_that_imports_a_domain_and_a_cycle(self) -> None:
        spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
        assert spec is not None and spec.loader is not None
        graph_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(graph_module)
        bad = Counter({("jobs", "training"): 1, ("training", "jobs"): 2, ("exports", "projects"): 1,
                       ("jobs", "models"): 3, ("main", "jobs"): 1})
        problems = graph_module.violations(bad)
        assert "the queue (app/jobs) imports the domain 'training'" in problems
        assert any(p.startswith("cycle: jobs → training → jobs") for p in problems)
        assert len(problems) == 2  # foundations (models) and roots (main) are allowed
