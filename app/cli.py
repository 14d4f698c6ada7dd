"""The ``rankwise`` command: serve, migrate, users, tokens, imports, demo, train.

One function per subcommand (``cmd_<name>``) and one ``_add_<name>`` that
registers its parser in ``SUBCOMMANDS``; adding a command means adding that
pair. Heavy modules are imported inside the commands: ``rankwise serve`` and
the web app never import torch, and ``rankwise train`` imports the trainer
only when it runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from app.config import Settings, get_settings
from app.models import Role

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

EXIT_OK = 0
EXIT_USAGE = 2
# A worker stopping with a job in hand gives the job its cancel grace (15 s) to save
# a checkpoint; after this long it is killed (its job process exits by itself).
WORKER_STOP_SECONDS = 30


def _settings() -> Settings:
    # Each invocation reads the environment afresh (tests call main() repeatedly).
    get_settings.cache_clear()
    return get_settings()


def _migrated_session_factory(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    from app.db import make_engine, make_session_factory
    from app.migrate import upgrade

    engine = make_engine(settings)
    upgrade(engine)
    return engine, make_session_factory(engine)


def _fail(message: str) -> int:
    print(f"rankwise: {message}", file=sys.stderr)
    return EXIT_USAGE


# --- serve / migrate -------------------------------------------------------


def start_worker(settings: Settings) -> subprocess.Popen[bytes] | None:
    """The embedded default: ``serve`` runs one local job worker beside the web app, as
    a child process (jobs import torch; the web process must not). The worker is told
    this process's id and exits by itself when this process is gone, even after a
    SIGKILL that left no chance to stop it."""
    if not settings.start_worker:
        return None
    env = {**os.environ, "RANKWISE_DATABASE_URL": settings.database_url,
           "RANKWISE_DATA_DIR": str(settings.data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--parent-pid", str(os.getpid())], env=env
    )


def stop_worker(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (the worker stops its job gracefully), then SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM and SIGINT itself (a graceful shutdown), then raises the
    # signal again for the handler it found installed. Python's default for SIGTERM
    # ends the process on the spot, so no `finally` would run, and SIGINT may be
    # ignored (a process started in the background inherits that): raising SystemExit
    # instead lets serve stop its worker first, and exit as a shell expects (128 + n).
    raise SystemExit(128 + signum)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    previous = {sig: signal.signal(sig, _exit_on_signal) for sig in STOP_SIGNALS}
    worker = None
    try:
        settings = _settings()
        # Migrated once here so that several uvicorn workers never race to migrate.
        engine, _ = _migrated_session_factory(settings)
        engine.dispose()
        worker = start_worker(settings)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            # X-Forwarded-For is believed only from RANKWISE_FORWARDED_ALLOW_IPS, in the app.
            proxy_headers=False,
        )
    finally:
        stop_worker(worker)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="migrate the database, then serve the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.set_defaults(handler=cmd_serve)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    engine, _ = _migrated_session_factory(settings)
    engine.dispose()
    print("database is at the newest schema")
    return EXIT_OK


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("migrate", help="upgrade the database to the newest schema")
    p.set_defaults(handler=cmd_migrate)


# --- users and tokens ------------------------------------------------------


def cmd_create_user(args: argparse.Namespace) -> int:
    from app.db import unit_of_work
    from app.errors import DomainError
    from app.users import service as users

    engine, factory = _migrated_session_factory(_settings())
    try:
        with unit_of_work(factory) as db:
            created = users.create(
                db,
                actor=None,
                email=args.email,
                display_name=args.name or args.email.split("@")[0],
                role=Role(args.role),
                password=args.password,
            )
            email = created.user.email
    except DomainError as exc:
        return _fail(exc.message)
    finally:
        engine.dispose()
    print(f"created {args.role} {email}")
    if created.password is not None:
        print(f"password: {created.password}")
    return EXIT_OK


def _add_create_user(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("create-user", help="create an account (prints a generated password)")
    p.add_argument("email")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.labeler.value)
    p.add_argument("--name", help="display name (default: the e-mail's local part)")
    p.add_argument("--password", help="at least 10 characters; generated when left out")
    p.set_defaults(handler=cmd_create_user)


def cmd_create_token(args: argparse.Namespace) -> int:
    from app.db import unit_of_work
    from app.errors import DomainError
    from app.users import service as users

    engine, factory = _migrated_session_factory(_settings())
    try:
        with unit_of_work(factory) as db:
            user = users.by_email(db, args.email)
            _, raw = users.create_token(db, actor=None, user=user, name=args.name)
    except DomainError as exc:
        return _fail(exc.message)
    finally:
        engine.dispose()
    print(raw)
    return EXIT_OK


def _add_create_token(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("create-token", help="issue an API token (printed once)")
    p.add_argument("email")
    p.add_argument("name", help="what the token is for, e.g. 'sampler script'")
    p.set_defaults(handler=cmd_create_token)


# --- imports ---------------------------------------------------------------


def _import(args: argparse.Namespace, kind: str) -> int:
    from app.db import unit_of_work
    from app.errors import DomainError
    from app.imports import service as imports
    from app.projects import service as projects

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"{path}: no such file")
    settings = _settings()
    engine, factory = _migrated_session_factory(settings)
    try:
        with unit_of_work(factory) as db, path.open("rb") as fh:
            project = projects.get_writable(db, None, args.project)
            run = imports.import_prompts if kind == "prompts" else imports.import_completions
            report = run(
                db,
                project,
                fh,
                filename=path.name,
                max_text_chars=settings.max_text_chars,
                actor=None,
                dry_run=args.dry_run,
            )
            if not report.ok:
                db.rollback()
    except DomainError as exc:
        return _fail(exc.message)
    finally:
        engine.dispose()
    if not report.ok:
        for err in report.errors:
            print(f"{path}:{err.line}: {err.message}", file=sys.stderr)
        hidden = report.error_count - len(report.errors)
        if hidden:
            print(f"{path}: ... and {hidden} more errors", file=sys.stderr)
        print(f"{path}: {report.error_count} errors; nothing was stored", file=sys.stderr)
        return EXIT_USAGE
    verb = "would store" if args.dry_run else "stored"
    print(f"{path}: {report.lines} records valid; {verb} {report.valid} {kind}")
    return EXIT_OK


def cmd_import_prompts(args: argparse.Namespace) -> int:
    return _import(args, "prompts")


def cmd_import_completions(args: argparse.Namespace) -> int:
    return _import(args, "completions")


def _add_imports(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, handler, what in (
        ("import-prompts", cmd_import_prompts, "prompts from JSONL or CSV"),
        ("import-completions", cmd_import_completions, "completions from JSONL"),
    ):
        p = sub.add_parser(name, help=f"import {what}: all lines or nothing")
        p.add_argument("project", help="project slug or id")
        p.add_argument("file")
        p.add_argument("--dry-run", action="store_true", help="validate only, store nothing")
        p.set_defaults(handler=handler)


# --- demo ------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from app import demo

    settings = _settings()
    engine, factory = _migrated_session_factory(settings)
    try:
        result = demo.seed(factory)
        sampler_line = demo.setup_sampler(factory, settings.data_dir)
    finally:
        engine.dispose()
    print(demo.describe(result, host=args.host, port=args.port))
    print(sampler_line)
    if args.no_serve:
        return EXIT_OK
    return cmd_serve(argparse.Namespace(host=args.host, port=args.port, workers=1))


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="seed demo users and projects, then serve on localhost")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="seed only")
    p.set_defaults(handler=cmd_demo)


# --- train -----------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from trainer import cli as trainer_cli
    except ImportError as exc:
        return _fail(f"training needs the train extra (pip install -e '.[train]'): {exc}")
    code = trainer_cli.main(list(args.trainer_args))
    return int(code or 0)


def _add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train", help="run the trainer (arguments go to `python -m trainer`)", add_help=False
    )
    p.add_argument("trainer_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_train)


def cmd_worker(args: argparse.Namespace) -> int:
    from app import job_kinds
    from app.jobs import worker

    return worker.main(list(args.worker_args), job_kinds.RUNNERS)


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker", help="claim and run background jobs (see `rankwise worker --help`)", add_help=False
    )
    p.add_argument("worker_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_worker)


# --- export ----------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from app.exports import command

    settings = _settings()
    engine, factory = _migrated_session_factory(settings)
    try:
        return command.run(args, settings, factory)
    finally:
        engine.dispose()


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from app.exports import command

    p = sub.add_parser("export", help="write a dataset export (data-contract files) to a folder")
    command.add_arguments(p)
    p.set_defaults(handler=cmd_export)


# --- eval ------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from app.evaluations import command

    settings = _settings()
    engine, factory = _migrated_session_factory(settings)
    try:
        return command.run(args, factory)
    finally:
        engine.dispose()


def _add_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # The arguments are here, not in app/evaluations/command.py: that module imports
    # scipy (choix), which every other command would then pay for at start-up.
    p = sub.add_parser("eval", help="blind evaluations: `rankwise eval results PROJECT` says who won")
    actions = p.add_subparsers(dest="eval_command", required=True, metavar="SUBCOMMAND")
    r = actions.add_parser("results", help="leaderboard, head-to-head win rates and position bias")
    r.add_argument("project", nargs="+", help="evaluation project slug or id (several: one leaderboard)")
    r.add_argument("--reference", help="the model fixed at 1000 (default: the oldest version compared)")
    r.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
    p.set_defaults(handler=cmd_eval)


SUBCOMMANDS: list[Registrar] = [
    _add_serve,
    _add_migrate,
    _add_create_user,
    _add_create_token,
    _add_imports,
    _add_demo,
    _add_train,
    _add_worker,
    _add_export,
    _add_eval,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankwise", description="Self-hosted studio for RLHF data and training."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `train` / `worker` belongs to that program, options included.
    if argv[:1] == ["train"]:
        return cmd_train(argparse.Namespace(trainer_args=argv[1:]))
    if argv[:1] == ["worker"]:
        return cmd_worker(argparse.Namespace(worker_args=argv[1:]))
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
