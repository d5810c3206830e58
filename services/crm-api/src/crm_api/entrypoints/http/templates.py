"""/email-templates: "synced meeting" templates. Reads and previews: any caller of the tenant;
writes: admins. Every save is checked: a bad merge code answers 422 naming it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Response, status

from crm_api.adapters.orm import EmailTemplate
from crm_api.adapters.snapshots import meeting_snapshot
from crm_api.auth import Caller
from crm_api.entrypoints.http.deps import AdminDep, CallerDep, SessionDep
from crm_api.errors import Invalid
from crm_api.schemas.templates import (
    PreviewIn,
    PreviewOut,
    TemplateEditOut,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
    TextPreviewIn,
)
from crm_api.service_layer import meetings, templates

router = APIRouter(prefix="/email-templates", tags=["email templates"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a template")
async def create_template(
    body: TemplateIn, caller: AdminDep, session: SessionDep, response: Response
) -> TemplateOut:
    templates.check_text(body.subject, body.body)
    async with session.begin():
        row = EmailTemplate(id=uuid.uuid4(), tenant_id=caller.tenant_id, **body.model_dump())
        session.add(row)
        await session.flush()
    response.headers["Location"] = f"/email-templates/{row.id}"
    return _out(row)


@router.get("", summary="List templates (by language and area)")
async def list_templates(
    caller: CallerDep,
    session: SessionDep,
    language: Annotated[str | None, Query(max_length=16)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
) -> list[TemplateOut]:
    rows = await templates.list_templates(session, caller.tenant_id, language, area)
    return [_out(row) for row in rows]


@router.get("/{template_id}", summary="Read a template")
async def get_template(
    template_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> TemplateOut:
    return _out(await templates.get_template(session, caller.tenant_id, template_id))


@router.get("/{template_id}/edit", summary='"Edit template" mode for the meeting form')
async def edit_template(
    template_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> TemplateEditOut:
    row = await templates.get_template(session, caller.tenant_id, template_id)
    return TemplateEditOut(
        template_id=row.id,
        subject=row.subject,
        body=row.body,
        merge_fields=templates.merge_fields(),
    )


@router.patch("/{template_id}", summary="Change a template")
async def patch_template(
    template_id: uuid.UUID, body: TemplatePatch, caller: AdminDep, session: SessionDep
) -> TemplateOut:
    async with session.begin():
        row = await templates.get_template(session, caller.tenant_id, template_id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        templates.check_text(changes.get("subject", row.subject), changes.get("body", row.body))
        for name, value in changes.items():
            setattr(row, name, value)
        if changes:
            row.version += 1
            row.updated_at = datetime.now(UTC)
        await session.flush()
    return _out(row)


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete")
async def delete_template(template_id: uuid.UUID, caller: AdminDep, session: SessionDep) -> None:
    async with session.begin():
        row = await templates.get_template(session, caller.tenant_id, template_id)
        await session.delete(row)


@router.post("/{template_id}/preview", summary="The mail as a recipient would read it")
async def preview_template(
    template_id: uuid.UUID, body: PreviewIn, caller: CallerDep, session: SessionDep
) -> PreviewOut:
    row = await templates.get_template(session, caller.tenant_id, template_id)
    return await _preview(row.subject, row.body, body, caller, session)


@router.post("/preview", summary="Preview edited template text (checked like a save)")
async def preview_text(body: TextPreviewIn, caller: CallerDep, session: SessionDep) -> PreviewOut:
    templates.check_text(body.subject, body.body)
    return await _preview(body.subject, body.body, body, caller, session)


async def _preview(
    subject: str, text: str, body: PreviewIn, caller: Caller, session: SessionDep
) -> PreviewOut:
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(("body", "timezone"), f"unknown time zone {body.timezone!r}") from None
    meeting = None
    if body.meeting_id is not None:
        row = await meetings.get_visible_meeting(session, caller, body.meeting_id)
        meeting = meeting_snapshot(row)
    rendered = templates.preview(subject, text, meeting, body.language, body.timezone)
    return PreviewOut(subject=rendered.subject, html=rendered.html, text=rendered.text)


def _out(row: EmailTemplate) -> TemplateOut:
    return TemplateOut(
        id=row.id,
        type=row.type,
        name=row.name,
        description=row.description,
        language=row.language,
        areas=list(row.areas),
        subject=row.subject,
        body=row.body,
        version=row.version,
        updated_at=row.updated_at,
    )
