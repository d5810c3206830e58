"""Maps service-layer errors to HTTP answers with FastAPI's error shape
(``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``) so clients parse one format."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crm_api.errors import CrmError, Invalid


async def _crm_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CrmError)
    if isinstance(error, Invalid):
        where = [] if error.loc and error.loc[0] in ("query", "path", "body") else ["body"]
        detail: object = [{"loc": [*where, *error.loc], "msg": error.message, "type": error.code}]
    else:
        detail = str(error)
    return JSONResponse({"detail": detail}, status_code=error.status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CrmError, _crm_error)
