"""The directory (/me, /users, /organisations, /persons, /meeting-types, /custom-fields) through
the real app on a real PostgreSQL, and the demo seed script.

The API tests share one migrated database per module; every test makes its own tenants, so
they neither see nor disturb each other's rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from crm_api.adapters.orm import Meeting
from crm_api.auth import Caller, mint_token, read_token
from crm_api.migrate import upgrade

from .support import JWT_SECRET, Api, running_api, settings_env, settings_for


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(module_database: str) -> AsyncIterator[Api]:
    async with running_api(module_database) as api:
        yield api


def user_body(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "Nina",
        "email": f"nina-{uuid.uuid4().hex[:6]}@example.com",
        "time_zone": "Europe/Amsterdam",
        "language": "nl",
        "display_colour": "#abcdef",
    }
    values.update(overrides)
    return values


def locations(response: httpx.Response) -> list[list[object]]:
    return [entry["loc"] for entry in response.json()["detail"]]


# --- authentication and authorisation ------------------------------------------------------


async def test_me_returns_the_caller(world: Api) -> None:
    acme = await world.tenant()
    response = await world.client(acme.user).get("/me")
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["id"] == str(acme.user.user_id)
    assert me["is_admin"] is False
    assert me["time_zone"] == "Europe/Warsaw"


async def test_users_change_their_own_colour_and_language_but_not_their_rights(world: Api) -> None:
    acme = await world.tenant()
    me = world.client(acme.user)
    changed = await me.patch("/me", json={"display_colour": "#aa3377", "language": "da"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_colour"], changed.json()["language"]) == ("#aa3377", "da")
    assert (await me.get("/me")).json()["display_colour"] == "#aa3377"
    promoted = await me.patch("/me", json={"is_admin": True})
    assert promoted.status_code == 422
    assert locations(promoted) == [["body", "is_admin"]]
    bad = await me.patch("/me", json={"display_colour": "pink"})
    assert bad.status_code == 422
    assert locations(bad) == [["body", "display_colour"]]


@pytest.mark.parametrize("path", ["/me", "/users", "/persons", "/custom-fields"])
async def test_no_token_is_401(world: Api, path: str) -> None:
    response = await world.client().get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_bad_tokens_are_401(world: Api) -> None:
    acme = await world.tenant()
    expired = mint_token(JWT_SECRET, acme.admin, timedelta(seconds=-5))
    wrong_key = mint_token("another-secret-of-at-least-32-bytes!!", acme.admin, timedelta(hours=1))
    no_exp = jwt.encode(
        {"sub": str(acme.admin.user_id), "tid": str(acme.tenant_id), "adm": True},
        JWT_SECRET,
        algorithm="HS256",
    )
    for token in ("garbage", expired, wrong_key, no_exp):
        response = await world.client(token=token).get("/users")
        assert response.status_code == 401, token


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users", user_body()),
        ("POST", "/meeting-types", {"name": "Demo"}),
        ("POST", "/custom-fields", {"key": "k", "label": "K", "type": "text"}),
    ],
)
async def test_admin_only_writes_are_403_for_plain_users(
    world: Api, method: str, path: str, body: dict[str, object]
) -> None:
    acme = await world.tenant()
    response = await world.client(acme.user).request(method, path, json=body)
    assert response.status_code == 403
    response = await world.client(acme.admin).request(method, path, json=body)
    assert response.status_code == 201, response.text


async def test_admin_only_patch_and_delete_are_403_for_plain_users(world: Api) -> None:
    acme = await world.tenant()
    admin, user = world.client(acme.admin), world.client(acme.user)
    kind = (await admin.post("/meeting-types", json={"name": "Visit"})).json()
    assert (await user.patch(f"/meeting-types/{kind['id']}", json={"name": "x"})).status_code == 403
    assert (await user.delete(f"/meeting-types/{kind['id']}")).status_code == 403
    assert (
        await user.patch(f"/users/{acme.user.user_id}", json={"is_admin": True})
    ).status_code == 403
    assert (await user.delete(f"/users/{acme.admin.user_id}")).status_code == 403
    assert (await user.get(f"/meeting-types/{kind['id']}")).status_code == 200


async def test_plain_users_write_organisations_and_persons(world: Api) -> None:
    acme = await world.tenant()
    user = world.client(acme.user)
    org = await user.post("/organisations", json={"name": "Acme"})
    assert org.status_code == 201, org.text
    assert org.headers["location"] == f"/organisations/{org.json()['id']}"
    person = await user.post(
        "/persons",
        json={"name": "Pia", "email": "pia@acme.example", "organisation_id": org.json()["id"]},
    )
    assert person.status_code == 201, person.text
    assert person.json()["organisation_id"] == org.json()["id"]
    path = f"/persons/{person.json()['id']}"
    patched = await user.patch(path, json={"organisation_id": None, "name": "Pia P."})
    assert patched.status_code == 200, patched.text
    assert patched.json() | {"created_at": None} == {
        "id": person.json()["id"],
        "name": "Pia P.",
        "email": "pia@acme.example",
        "organisation_id": None,
        "created_at": None,
    }
    assert (await user.delete(path)).status_code == 204
    assert (await user.get(path)).status_code == 404


# --- tenant isolation ----------------------------------------------------------------------


async def test_another_tenants_rows_are_404_and_not_listed(world: Api) -> None:
    a, b = await world.tenant("A"), await world.tenant("B")
    client_a, client_b = world.client(a.admin), world.client(b.admin)
    org = (await client_a.post("/organisations", json={"name": "A's org"})).json()
    person = (await client_a.post("/persons", json={"name": "A's person"})).json()
    kind = (await client_a.post("/meeting-types", json={"name": "A's type"})).json()
    field = (
        await client_a.post("/custom-fields", json={"key": "a", "label": "A", "type": "text"})
    ).json()
    foreign = [
        f"/users/{a.user.user_id}",
        f"/organisations/{org['id']}",
        f"/persons/{person['id']}",
        f"/meeting-types/{kind['id']}",
        f"/custom-fields/{field['id']}",
    ]
    for path in foreign:
        assert (await client_b.get(path)).status_code == 404, path
        assert (await client_b.patch(path, json={})).status_code == 404, path
        assert (await client_b.delete(path)).status_code == 404, path
        assert (await client_a.get(path)).status_code == 200, path
    # B cannot attach A's organisation to its person either
    response = await client_b.post(
        "/persons", json={"name": "Sneaky", "organisation_id": org["id"]}
    )
    assert response.status_code == 422
    assert locations(response) == [["body", "organisation_id"]]

    for collection in ("/users", "/organisations", "/persons", "/meeting-types", "/custom-fields"):
        listed_b = (await client_b.get(collection)).json()
        listed_a = (await client_a.get(collection)).json()
        ids_a = {item["id"] for item in listed_a["items"]}
        assert not ids_a & {item["id"] for item in listed_b["items"]}, collection
        assert listed_a["total"] == len(listed_a["items"]) >= 1, collection
    users_b = (await client_b.get("/users")).json()
    assert {u["id"] for u in users_b["items"]} == {str(b.admin.user_id), str(b.user.user_id)}


async def test_token_of_another_tenant_cannot_read_by_id_even_as_admin(world: Api) -> None:
    a = await world.tenant()
    intruder = Caller(uuid.uuid4(), uuid.uuid4(), True)  # valid signature, unknown tenant
    response = await world.client(intruder).get(f"/users/{a.admin.user_id}")
    assert response.status_code == 404
    assert (await world.client(intruder).get("/users")).json()["total"] == 0
    assert (await world.client(intruder).get("/me")).status_code == 404


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),
        ({"display_colour": "red"}, "display_colour"),
        ({"display_colour": "#12345"}, "display_colour"),
        ({"language": "de"}, "language"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"nickname": "Bob"}, "nickname"),
    ],
)
async def test_bad_user_input_is_422_naming_the_field(
    world: Api, overrides: dict[str, object], field: str
) -> None:
    acme = await world.tenant()
    admin = world.client(acme.admin)
    response = await admin.post("/users", json=user_body(**overrides))
    assert response.status_code == 422, response.text
    assert any(field in loc for loc in locations(response)), locations(response)
    patch = await admin.patch(f"/users/{acme.user.user_id}", json=overrides)
    assert patch.status_code == 422, patch.text
    assert any(field in loc for loc in locations(patch)), locations(patch)


async def test_null_is_refused_for_required_fields_in_patch(world: Api) -> None:
    acme = await world.tenant()
    response = await world.client(acme.admin).patch(
        f"/users/{acme.user.user_id}", json={"name": None}
    )
    assert response.status_code == 422
    assert locations(response) == [["body", "name"]]


async def test_bad_ids_are_422(world: Api) -> None:
    acme = await world.tenant()
    response = await world.client(acme.user).get("/users/not-a-uuid")
    assert response.status_code == 422
    assert locations(response) == [["path", "user_id"]]


async def test_unknown_organisation_is_422_naming_organisation_id(world: Api) -> None:
    acme = await world.tenant()
    user = world.client(acme.user)
    response = await user.post(
        "/persons", json={"name": "Pia", "organisation_id": str(uuid.uuid4())}
    )
    assert response.status_code == 422
    assert locations(response) == [["body", "organisation_id"]]
    person = (await user.post("/persons", json={"name": "Pia"})).json()
    response = await user.patch(
        f"/persons/{person['id']}", json={"organisation_id": str(uuid.uuid4())}
    )
    assert response.status_code == 422
    assert locations(response) == [["body", "organisation_id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "Deal", "label": "Deal", "type": "text"}, "key"),
        ({"key": "9lives", "label": "L", "type": "text"}, "key"),
        ({"key": "k" * 65, "label": "L", "type": "text"}, "key"),
        ({"key": "k", "label": "L", "type": "colour"}, "type"),
        ({"key": "k", "label": "L", "type": "choice"}, "choices"),
        ({"key": "k", "label": "L", "type": "choice", "choices": []}, "choices"),
        ({"key": "k", "label": "L", "type": "text", "choices": ["a"]}, "choices"),
        ({"key": "k", "label": "L", "type": "choice", "choices": ["a", "a"]}, "choices"),
    ],
)
async def test_bad_custom_field_is_422_naming_the_field(
    world: Api, body: dict[str, object], field: str
) -> None:
    acme = await world.tenant()
    response = await world.client(acme.admin).post("/custom-fields", json=body)
    assert response.status_code == 422, response.text
    assert any(field in loc for loc in locations(response)), locations(response)


async def test_custom_field_lifecycle(world: Api) -> None:
    acme = await world.tenant()
    admin = world.client(acme.admin)
    body = {"key": "stage", "label": "Stage", "type": "choice", "choices": ["lead", "won"]}
    created = await admin.post("/custom-fields", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["required"] is False
    path = f"/custom-fields/{created.json()['id']}"
    assert (await admin.post("/custom-fields", json=body)).status_code == 409
    assert (await admin.patch(path, json={"key": "other"})).status_code == 422
    assert (await admin.patch(path, json={"choices": []})).status_code == 422
    changed = await admin.patch(path, json={"type": "text", "required": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["choices"] == []
    assert changed.json()["required"] is True
    assert (await admin.delete(path)).status_code == 204
    assert (await admin.get(path)).status_code == 404


# --- conflicts -----------------------------------------------------------------------------


async def test_duplicate_user_email_is_409(world: Api) -> None:
    acme, other = await world.tenant(), await world.tenant()
    admin = world.client(acme.admin)
    body = user_body(email="dup@example.com")
    assert (await admin.post("/users", json=body)).status_code == 201
    response = await admin.post("/users", json=user_body(email="DUP@example.com"))
    assert response.status_code == 409
    assert "dup@example.com" in response.json()["detail"].lower()
    # the same email in another tenant is fine
    assert (await world.client(other.admin).post("/users", json=body)).status_code == 201
    # and changing a user's email to a taken one is refused too
    response = await admin.patch(f"/users/{acme.user.user_id}", json={"email": "dup@example.com"})
    assert response.status_code == 409


async def test_deleting_a_user_who_owns_meetings_is_409(world: Api) -> None:
    acme = await world.tenant()
    admin = world.client(acme.admin)
    created = await world.client(acme.user).post(
        "/meetings",
        json={
            "subject": "Kick-off",
            "start": "2026-12-01T09:00:00+01:00",
            "end": "2026-12-01T10:00:00+01:00",
            "timezone": "Europe/Copenhagen",
        },
    )
    assert created.status_code == 201, created.text
    response = await admin.delete(f"/users/{acme.user.user_id}")
    assert response.status_code == 409
    assert "owns 1 meeting" in response.json()["detail"]
    assert (await admin.get(f"/users/{acme.user.user_id}")).status_code == 200
    async with world.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.tenant_id == acme.tenant_id)
        )
    assert count == 1


async def test_user_crud_and_last_admin_guard(world: Api) -> None:
    acme = await world.tenant()
    admin = world.client(acme.admin)
    created = await admin.post("/users", json=user_body(email="Nina@Example.COM"))
    assert created.status_code == 201, created.text
    nina = created.json()
    assert created.headers["location"] == f"/users/{nina['id']}"
    assert nina["language"] == "nl"
    assert nina["is_admin"] is False
    path = f"/users/{nina['id']}"
    patched = await admin.patch(path, json={"display_colour": "#000000", "is_admin": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_colour"] == "#000000"
    assert patched.json()["name"] == "Nina"  # untouched
    assert (await admin.delete(path)).status_code == 204
    assert (await admin.get(path)).status_code == 404
    # the tenant's only admin can neither be demoted nor deleted
    me = f"/users/{acme.admin.user_id}"
    assert (await admin.patch(me, json={"is_admin": False})).status_code == 409
    assert (await admin.delete(me)).status_code == 409
    assert (await admin.delete(f"/users/{acme.user.user_id}")).status_code == 204


# --- paging --------------------------------------------------------------------------------


async def test_lists_page_with_limit_offset_and_total(world: Api) -> None:
    acme = await world.tenant()
    user = world.client(acme.user)
    names = [f"Org {index:02d}" for index in range(7)]
    for name in reversed(names):
        assert (await user.post("/organisations", json={"name": name})).status_code == 201
    first = (await user.get("/organisations", params={"limit": 3})).json()
    assert (first["total"], first["limit"], first["offset"]) == (7, 3, 0)
    assert [item["name"] for item in first["items"]] == names[:3]
    last = (await user.get("/organisations", params={"limit": 3, "offset": 6})).json()
    assert [item["name"] for item in last["items"]] == names[6:]
    beyond = (await user.get("/organisations", params={"offset": 50})).json()
    assert beyond["items"] == []
    assert beyond["total"] == 7
    for params in ({"limit": 201}, {"limit": 0}, {"offset": -1}):
        assert (await user.get("/organisations", params=params)).status_code == 422, params
    assert (await user.get("/organisations", params={"limit": 200})).status_code == 200


async def test_persons_filter_by_organisation_and_text(world: Api) -> None:
    acme = await world.tenant()
    user = world.client(acme.user)
    org = (await user.post("/organisations", json={"name": "Acme"})).json()
    await user.post("/persons", json={"name": "Pia", "organisation_id": org["id"]})
    await user.post("/persons", json={"name": "Per", "email": "per_x@else.example"})
    by_org = (await user.get("/persons", params={"organisation_id": org["id"]})).json()
    assert [p["name"] for p in by_org["items"]] == ["Pia"]
    by_text = (await user.get("/persons", params={"q": "PER_"})).json()
    assert [p["name"] for p in by_text["items"]] == ["Per"]
    assert (await user.get("/persons", params={"q": "%"})).json()["total"] == 0


# --- seed ----------------------------------------------------------------------------------


def _run_seed(env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "crm_api.seed"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


async def test_seed_is_idempotent_and_prints_valid_tokens(fresh_database: str) -> None:
    await asyncio.to_thread(upgrade, fresh_database)
    settings = settings_for(fresh_database)
    env = settings_env(settings)
    first = await asyncio.to_thread(_run_seed, env)
    second = await asyncio.to_thread(_run_seed, env)
    assert first["tenant_id"] == second["tenant_id"]
    users = second["users"]
    assert isinstance(users, list)
    assert [(u["name"], u["is_admin"]) for u in users] == [
        ("Alice Admin", True),
        ("Bjørn", False),
        ("Zofia", False),
    ]
    assert [u["id"] for u in users] == [u["id"] for u in first["users"]]
    for user in users:
        assert user["email"].endswith("@demo.example")
        caller = read_token(JWT_SECRET, user["token"])
        assert caller == Caller(
            uuid.UUID(user["id"]), uuid.UUID(str(second["tenant_id"])), user["is_admin"]
        )
        expires = jwt.decode(user["token"], JWT_SECRET, algorithms=["HS256"])["exp"]
        assert datetime.fromtimestamp(expires, UTC) > datetime.now(UTC) + timedelta(days=29)

    async with running_api(fresh_database, migrate=False, settings=settings) as api:
        alice = api.client(token=users[0]["token"])
        me = (await alice.get("/me")).json()
        assert (me["name"], me["time_zone"], me["display_colour"]) == (
            "Alice Admin",
            "Europe/Copenhagen",
            "#1f77b4",
        )
        zofia = (await api.client(token=users[2]["token"]).get("/me")).json()
        assert (zofia["language"], zofia["time_zone"]) == ("pl", "Europe/Warsaw")
        counts = {
            path: (await alice.get(path)).json()["total"]
            for path in ("/users", "/organisations", "/persons", "/meeting-types", "/custom-fields")
        }
        assert counts == {
            "/users": 3,
            "/organisations": 2,
            "/persons": 3,
            "/meeting-types": 2,
            "/custom-fields": 1,
        }
        persons = (await alice.get("/persons")).json()["items"]
        assert all(p["email"] and p["organisation_id"] for p in persons)
        types = (await alice.get("/meeting-types")).json()["items"]
        assert {t["name"] for t in types} == {"Customer visit", "Internal"}
        [field] = (await alice.get("/custom-fields")).json()["items"]
        assert (field["key"], field["type"]) == ("deal_value", "number")


async def test_users_and_organisations_are_found_by_text_in_their_name(world: Api) -> None:
    _, admin, _user = await world.tenant("Search")
    client = world.client(admin)
    for name in ("Nordhavn Shipping", "Acme 100% Steel", "Nordic Oak"):
        assert (await client.post("/organisations", json={"name": name})).status_code == 201

    async def names(path: str, q: str) -> list[str]:
        response = await client.get(path, params={"q": q})
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names("/organisations", "NORD") == ["Nordhavn Shipping", "Nordic Oak"]
    assert await names("/organisations", "100%") == ["Acme 100% Steel"]  # % is a character
    assert await names("/organisations", "_") == []  # so is _
    assert await names("/users", "ulla") == ["Ulla User"]


async def test_new_users_get_colours_their_colleagues_do_not_have(world: Api) -> None:
    """Users shown side by side in the calendar differ, unless someone chose a colour."""
    acme = await world.tenant()
    admin = world.client(acme.admin)
    taken = {(await admin.get("/me")).json()["display_colour"]}
    taken.add((await world.client(acme.user).get("/me")).json()["display_colour"])
    for n in range(3):
        values = {"name": f"User {n}", "email": f"user{n}-{uuid.uuid4().hex[:6]}@example.com"}
        made = await admin.post("/users", json=values)
        assert made.status_code == 201, made.text
        assert made.json()["display_colour"] not in taken
        taken.add(made.json()["display_colour"])
    chosen = await admin.post("/users", json=user_body(display_colour="#3366cc"))
    assert chosen.json()["display_colour"] == "#3366cc"
