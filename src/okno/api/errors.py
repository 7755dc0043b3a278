from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from okno.kit.errors import OknoError, TooManyRequests, Unauthorized


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OknoError)
    async def _okno_error(_request: Request, exc: OknoError) -> JSONResponse:
        headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        if isinstance(exc, TooManyRequests):
            headers = {"retry-after": str(exc.retry_after)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
