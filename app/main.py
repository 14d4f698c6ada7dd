"""create_app(): settings, database, middleware, routers, static files, error handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.config import Settings, get_settings
from app.db import ConcurrencyGate, make_engine, make_session_factory
from app.errors import DomainError, NotAuthenticated, RateLimited
from app.migrate import upgrade
from app.security.middleware import BodySizeLimit, CrossSiteGuard, SecurityHeaders
from app.security.rate_limit import RateLimiter
from app.templating import templates

ROOT = Path(__file__).resolve().parent.parent


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    return "application/json" in request.headers.get("accept", "")


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        errors.append({"field": ".".join(loc) or None, "message": str(err.get("msg", "invalid"))})
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    return f"{where}{first['message']}", errors


def _error_response(request: Request, status: int, body: dict[str, Any]) -> Response:
    if _wants_json(request):
        return JSONResponse(body, status_code=status)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": body.get("detail", "")}, status_code=status
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        response = _error_response(request, exc.status_code, exc.to_dict())
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, NotAuthenticated) and _wants_json(request):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        message, errors = _validation_message(exc)
        return _error_response(
            request, 422, {"error": "invalid_input", "detail": message, "errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_response(request, exc.status_code, {"error": "http", "detail": exc.detail})


def _include_routers(app: FastAPI) -> None:
    # One line per domain; each module exposes `router`.
    from app.auth.router import router as auth_router
    from app.evaluations.router import router as evaluations_router
    from app.exports.router import router as exports_router
    from app.imports.router import router as imports_router
    from app.job_kinds import router as job_start_router
    from app.jobs.router import router as jobs_router
    from app.labeling.router import router as labeling_router
    from app.pages.router import router as pages_router
    from app.projects.router import router as projects_router
    from app.registry.pages import router as registry_pages_router
    from app.registry.router import router as registry_router
    from app.training.router import router as training_router
    from app.users.router import router as users_router

    for router in (
        auth_router, exports_router, labeling_router, projects_router, imports_router,
        users_router, pages_router, job_start_router, jobs_router, registry_router,
        registry_pages_router, training_router, evaluations_router,
    ):
        app.include_router(router)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings)
    if migrate:
        upgrade(engine)

    app = FastAPI(
        title="Rankwise",
        version=__version__,
        description="Self-hosted studio for RLHF data and training.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.login_limiter = RateLimiter(settings.login_rate_per_minute)
    app.state.submit_limiter = RateLimiter(settings.submit_rate_per_minute)

    _install_error_handlers(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")

    # The last added runs first: headers go on every answer, 413 and 403 included;
    # oversized and cross-site requests are refused before any work is done.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(CrossSiteGuard)
    app.add_middleware(ConcurrencyGate, limit=settings.pool_size)
    app.add_middleware(SecurityHeaders)
    return app
