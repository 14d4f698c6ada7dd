"""create_app(): settings, database, middleware, routers, static files, error handlers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import __version__
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.errors import (
    DomainError,
    NotAuthenticated,
    RateLimited,
    error_response,
    validation_errors,
    wants_json,
)
from app.migrate import upgrade
from app.openapi import api_routes, document_errors, is_upload_route
from app.security.middleware import Edge
from app.security.rate_limit import RateLimiter

ROOT = Path(__file__).resolve().parent.parent


_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited"}


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """Every method some route takes at this path (Starlette's 405 names only one route's)."""
    methods: set[str] = set()
    for route in api_routes(app):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        response = error_response(request, exc.status_code, exc.to_dict())
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, NotAuthenticated) and wants_json(request):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        message, errors = validation_errors(exc.errors())
        return error_response(
            request, 422, {"error": "invalid_input", "detail": message, "errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's words
            detail = "The body cannot be read: send UTF-8 JSON whose numbers have at most 4,300 digits."
        response = error_response(request, exc.status_code, {"error": code, "detail": detail})
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed_methods(app, request)
        return response


def _include_routers(app: FastAPI) -> None:
    # One line per domain; each module exposes `router`.
    from app.ai_labeling.pages import router as ai_labeling_pages_router
    from app.ai_labeling.router import router as ai_labeling_router
    from app.auth.router import router as auth_router
    from app.evaluations.pages import router as evaluation_pages_router
    from app.evaluations.router import router as evaluations_router
    from app.exports.router import router as exports_router
    from app.imports.router import router as imports_router
    from app.job_kinds import router as job_start_router
    from app.jobs.router import router as jobs_router
    from app.labeling.router import router as labeling_router
    from app.pages.router import router as pages_router
    from app.projects.router import router as projects_router
    from app.quality.pages import router as quality_pages_router
    from app.quality.router import router as quality_router
    from app.registry.pages import router as registry_pages_router
    from app.registry.router import router as registry_router
    from app.training.router import router as training_router
    from app.users.router import router as users_router

    for router in (
        auth_router, exports_router, labeling_router, projects_router, imports_router,
        users_router, pages_router, job_start_router, jobs_router, registry_router,
        registry_pages_router, training_router, evaluations_router, quality_router, quality_pages_router,
        ai_labeling_router, ai_labeling_pages_router, evaluation_pages_router,
    ):
        app.include_router(router)


def _install_policies() -> None:
    # Quality control decides first what the queue hands a labeler (screening, gold items,
    # a pause); the queue itself imports no other domain.
    from app.labeling import queue
    from app.quality import queue_policy

    queue.install_policy(queue_policy.pick)


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
    _install_policies()
    document_errors(app)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(ROOT / "static" / "favicon.svg", media_type="image/svg+xml")

    uploads = [r.path_regex for r in api_routes(app) if is_upload_route(r)]

    def is_upload(path: str) -> bool:
        return any(regex.match(path) for regex in uploads)

    # One layer (app/security/middleware.py, Edge): headers go on every answer, 413 and 403
    # included; cross-site and oversized requests are refused before any work is done,
    # and input no field may hold before any route reads it.
    app.add_middleware(
        Edge,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        is_upload=is_upload,
        limit=settings.pool_size,
    )
    if settings.forwarded_allow_ips.strip():
        # The client address (login rate limit) comes from X-Forwarded-For only when the
        # connection is from one of these proxies; uvicorn's own handling is off (app/cli.py).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app
