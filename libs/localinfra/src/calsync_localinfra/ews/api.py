"""The HTTP face of the EWS stand-in: one SOAP endpoint, ``POST /EWS/Exchange.asmx``, behind
HTTP Basic (RFC 7617), at the path Exchange serves it, so ``exchangelib`` talks to it unchanged.

A request without valid credentials gets 401 with ``WWW-Authenticate: Basic realm=...``, from
which clients that guess the scheme (exchangelib with ``auth_type=None``) pick Basic. Answers
are SOAP envelopes carrying ``ServerVersionInfo``; operation errors are ResponseMessages (HTTP
200), request-wide ones SOAP Faults (HTTP 500), as at Exchange. Nothing answers a traceback.

Push subscriptions (``subscribe_ops``) are delivered by a ``PushNotifier`` living as long as
the app (its lifespan), whose HTTP client is closed at shutdown.

``/_fake/...`` is the operator's backdoor (``backdoor``); Exchange has no such thing.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from calsync_localinfra.ews import backdoor
from calsync_localinfra.ews.folder_ops import find_folder, get_folder
from calsync_localinfra.ews.item_read_ops import find_item, get_item
from calsync_localinfra.ews.item_write_ops import create_item, delete_item, update_item
from calsync_localinfra.ews.notifier import PushNotifier
from calsync_localinfra.ews.soap import (
    Element,
    EwsError,
    SoapFault,
    envelope,
    fault,
    operation_response,
    parse_request,
    response_message,
)
from calsync_localinfra.ews.store import Account, ExchangeState
from calsync_localinfra.ews.subscribe_ops import subscribe
from calsync_localinfra.ews.sync_ops import sync_folder_items
from calsync_localinfra.ews.views import Call

EWS_PATH = "/EWS/Exchange.asmx"
REALM = 'Basic realm="exchange.local"'
XML = "text/xml; charset=utf-8"
log = logging.getLogger(__name__)

Operation = Callable[[Call, Element], list[Element]]


def convert_id(call: Call, op: Element) -> list[Element]:
    """ConvertId: clients send one to learn the server's version (exchangelib's version
    guess); ids of other formats than EwsId are not converted here."""
    return [
        response_message("ConvertId", EwsError("ErrorInvalidIdMalformed", "Id is malformed."))
        for _ in op.iter("{http://schemas.microsoft.com/exchange/services/2006/types}AlternateId")
    ] or [response_message("ConvertId")]


OPERATIONS: dict[str, Operation] = {
    "ConvertId": convert_id,
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "SyncFolderItems": sync_folder_items,
    "GetItem": get_item,
    "FindItem": find_item,
    "CreateItem": create_item,
    "UpdateItem": update_item,
    "DeleteItem": delete_item,
    "Subscribe": subscribe,
}
NEEDS_NO_MAILBOX = {"ConvertId"}


def create_app(state: ExchangeState) -> FastAPI:
    notifier = PushNotifier(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await notifier.start()
        try:
            yield
        finally:
            await notifier.aclose()

    app = FastAPI(
        title="EWS stand-in", openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.exchange = state

    @app.post(EWS_PATH)
    async def ews(request: Request) -> Response:
        body = await request.body()  # read first: an unread body would close the connection
        with state.locked():
            state.requests += 1
            caller = signed_in(state, request.headers.get("authorization"))
            if caller is None:
                return Response(status_code=401, headers={"WWW-Authenticate": REALM})
            status, content = answer(state, caller, body)
        return Response(content, status_code=status, media_type=XML)

    backdoor.add_routes(app, state, notifier)
    return app


def signed_in(state: ExchangeState, authorization: str | None) -> Account | None:
    """The account HTTP Basic credentials name (RFC 7617 §2), a ``DOMAIN\\user`` login
    matched by its user part when the whole is unknown."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    found = state.authenticate(login, password)
    if found is None and "\\" in login:
        found = state.authenticate(login.rsplit("\\", 1)[1], password)
    return found


def answer(state: ExchangeState, caller: Account, body: bytes) -> tuple[int, bytes]:
    try:
        request = parse_request(body)
        operation = OPERATIONS.get(request.name)
        if operation is None:
            raise SoapFault(
                "ErrorInvalidOperation",
                f"The EWS stand-in does not implement the {request.name} operation.",
            )
        mailbox = state.acting_mailbox(caller, request.impersonated)
        _check_mailbox(state, mailbox, request.name)
        state.check_throttle(mailbox)
        call = Call(state, caller, mailbox)
        try:
            messages = operation(call, request.operation)
        except EwsError as error:
            messages = [response_message(request.name, error)]
        return 200, envelope(operation_response(request.name, messages))
    except SoapFault as error:
        return 500, fault(error)
    except Exception:
        log.exception("EWS stand-in failed")
        internal = SoapFault("ErrorInternalServerError", "An internal server error occurred.")
        return 500, fault(internal)


def _check_mailbox(state: ExchangeState, mailbox: str, operation: str) -> None:
    account = state.accounts.get(mailbox)
    if operation not in NEEDS_NO_MAILBOX and (account is None or not account.has_mailbox):
        raise SoapFault(
            "ErrorNonExistentMailbox",
            f"The SMTP address has no mailbox associated with it: {mailbox}",
        )
