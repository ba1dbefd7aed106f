"""Schemathesis against the live OpenAPI schema, as each role, through Django's WSGI app.

For every GET operation of `/api/schema/` (and the POSTs that store nothing: quotes and a contract
change's price preview), Hypothesis generates a few requests from the schema — query filters,
page sizes, ids (real ids of rows the role can see, and made-up ones) — and each answer must:
not be a 5xx; have a status code the schema documents; have the documented content type; and
have a body that matches the documented schema. One test per role, with an API key of that
role's person; the data is one row of every tenant model (the cross-tenant test's world).
"""

import json
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from prm.accounts.services import api_key_create
from tests.core.test_cross_tenant import _owned_by_b

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# POSTs that compute and answer without storing anything.
SAFE_POSTS = {"/api/v1/quotes", "/api/v1/subscriptions/{id}/change-preview/"}
EXAMPLES = 5


@pytest.fixture(scope="module")
def raw_schema(django_db_setup, django_db_blocker):
    """The schema exactly as clients fetch it from /api/schema/."""
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


@contextmanager
def _connection_kept_open():
    """Django closes the database connection around each request it serves; the test's
    transaction lives on that connection (on PostgreSQL closing it ends the test), so, as Django's
    own test Client does, requests to the WSGI app leave it open here. (The test Client reconnects
    the closing on its way out: no test Client request inside this block.)"""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        if method == "GET" or (method == "POST" and operation.path in SAFE_POSTS):
            yield operation


def _visible_ids(client, headers, path):
    """Ids of rows the role sees at the list route above a detail path (`/x/{id}/…` → `/x/`)."""
    list_path = path.split("{id}")[0]
    response = client.get(list_path, {"page_size": 50}, **headers)
    if response.status_code != 200:
        return []
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    return [row["id"] for row in rows if isinstance(row, dict) and "id" in row]


def _fuzz_operation(operation, app, auth, ids):
    """Run EXAMPLES generated requests of one operation; returns the failures' reports."""
    failures = []
    strategy = operation.as_strategy()
    picks = st.sampled_from(ids) if ids else st.none()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, real_id=st.one_of(st.none(), picks))
    def run(case, real_id):
        if real_id is not None and case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = real_id
        try:
            case.call_and_validate(app=app, headers=auth, checks=CHECKS, base_url="http://testserver")
        except (Exception, BaseExceptionGroup) as error:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:3000]}")

    run()
    # And every row the role sees, once each: a detail's shape depends on the row (a draft, a flat fee …).
    if operation.method.upper() == "GET" and "{id}" in operation.path:
        for row_id in ids:
            case = operation.Case(path_parameters={"id": row_id})
            try:
                case.call_and_validate(app=app, headers=auth, checks=CHECKS, base_url="http://testserver")
            except (Exception, BaseExceptionGroup) as error:
                failures.append(f"GET {operation.path} (id {row_id}): {str(error)[:3000]}")
    return failures


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["manager", "admin_b", "rep_b", "customer_user_b1"])
def test_api_answers_conform_to_the_schema(role, world, raw_schema):
    _owned_by_b(world)  # a row of every tenant model, B's side: what B's people and the manager see
    user = getattr(world, role)
    _key, secret = api_key_create(user=user, name="schemathesis")
    auth = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_dict(raw_schema)
    app = WSGIHandler()
    client = Client()
    django_auth = {"HTTP_AUTHORIZATION": auth["Authorization"]}
    operations = list(_operations(schema))
    ids = {op.path: _visible_ids(client, django_auth, op.path) for op in operations if "{id}" in op.path}
    failures = []
    checked = set()
    with _connection_kept_open():
        for operation in operations:
            failures += _fuzz_operation(operation, app, auth, ids.get(operation.path, []))
            checked.add((operation.method.upper(), operation.path))
    gets = {path for path, item in raw_schema["paths"].items() if "get" in item}
    assert {path for method, path in checked if method == "GET"} == gets  # every GET, not a filtered few
    assert {path for method, path in checked if method == "POST"} == SAFE_POSTS
    assert not failures, "\n\n".join(dict.fromkeys(failures))
