"""Plans (versioned prices) and POST /api/v1/quotes, through the API, the services and the portal."""

import json

import pytest
from django.urls import reverse

from prm.plans.models import Metric, Plan

API_CALLS = {"model": "graduated", "metric": "api_calls", "tiers": [
    {"up_to": 1000, "unit_amount": "0", "flat_amount": "0"},
    {"up_to": 10000, "unit_amount": "0.002", "flat_amount": "0"},
    {"up_to": None, "unit_amount": "0.001", "flat_amount": "0"},
]}  # fmt: skip
PLATFORM_FEE = {"model": "flat", "amount": "49"}


@pytest.fixture
def metrics(db):
    Metric.objects.create(code="api_calls", name="API calls", unit="call", aggregation="sum", field="calls")
    Metric.objects.create(code="seats", name="Seats", unit="seat", aggregation="max", field="seats")


def _create(client, **overrides):
    body = {"code": "api-growth", "name": "API Growth", "currency": "USD", "charges": [PLATFORM_FEE, API_CALLS],
            "minimum_commitment": "100", "entitlements": ["sso", "audit-log"], **overrides}  # fmt: skip
    return client.post("/api/v1/plans/", body, content_type="application/json")


@pytest.mark.django_db
def test_manager_creates_a_plan_and_everyone_reads_it(world, client, metrics):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    created = _create(client)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["version"], body["minimum_commitment"], body["entitlements"]) == (1, "100", ["audit-log", "sso"])
    assert body["charges"][1]["tiers"][1] == {"up_to": "10000", "unit_amount": "0.002", "flat_amount": "0"}
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get("/api/v1/plans/").json()["count"] == 1
        assert _create(client, code="mine").status_code == 403
    assert Plan.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("charges", "path"),
    [
        ([{"model": "volume", "metric": "api_calls", "tiers": [{"up_to": 10, "unit_amount": "1"},
                                                                {"up_to": 5, "unit_amount": "1"}]}],
         "charges[0].tiers[1].up_to"),
        ([{"model": "graduated", "metric": "api_calls", "tiers": [{"up_to": 10, "unit_amount": "1"}]}],
         "charges[0].tiers"),
        ([{"model": "per_unit", "metric": "api_calls", "unit_amount": "-1"}], "charges[0].unit_amount"),
        ([{"model": "package", "metric": "api_calls", "unit_amount": "5", "package_size": "0"}],
         "charges[0].package_size"),
        ([{"model": "per_unit", "metric": "no_such_metric", "unit_amount": "1"}], "charges[0].metric"),
    ],
)  # fmt: skip
def test_bad_charges_are_refused_naming_the_path(world, client, metrics, charges, path):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = _create(client, charges=charges)
    assert response.status_code == 400
    assert any(key.startswith(path) for key in response.json()), response.json()
    assert Plan.objects.count() == 0


@pytest.mark.django_db
def test_unknown_currency_and_money_precision(world, client, metrics):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert "currency" in _create(client, currency="XXX").json()
    response = _create(client, code="yen", currency="JPY", minimum_commitment="100.5")
    assert response.status_code == 400 and "minimum_commitment" in response.json()


@pytest.mark.django_db
def test_editing_prices_in_place_until_used(world, client, metrics):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    plan_id = _create(client).json()["id"]
    response = client.patch(f"/api/v1/plans/{plan_id}/", {"minimum_commitment": "150"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["version"] == 1
    assert response.json()["minimum_commitment"] == "150"
    renamed = client.patch(f"/api/v1/plans/{plan_id}/", {"name": "API Growth 2026"}, content_type="application/json")
    assert renamed.json()["name"] == "API Growth 2026" and renamed.json()["version"] == 1


QUOTE = {"currency": "USD", "charges": [PLATFORM_FEE, API_CALLS], "minimum_commitment": "100",
         "usage": {"api_calls": "25000"}}  # fmt: skip


@pytest.mark.django_db
def test_quote_with_inline_charges(world, client, metrics):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post("/api/v1/quotes", QUOTE, content_type="application/json")
    assert response.status_code == 200, response.json()
    # 49 flat; graduated: 1,000 free, 9,000 × 0.002 = 18, 15,000 × 0.001 = 15 → 33. Subtotal 82 < 100: true-up 18.
    assert response.json() == {
        "currency": "USD",
        "lines": [
            {"metric": None, "model": "flat", "quantity": "1", "amount": "49.00"},
            {"metric": "api_calls", "model": "graduated", "quantity": "25000", "amount": "33.00"},
            {"metric": None, "model": "minimum_commitment", "quantity": "1", "amount": "18.00"},
        ],
        "subtotal": "82.00",
        "total": "100.00",
    }


@pytest.mark.django_db
def test_quote_by_plan_code_stores_nothing(world, client, metrics):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    _create(client)
    before = Plan.objects.count()
    body = {"currency": "USD", "plan": "api-growth", "usage": {"api_calls": "500"}}
    response = client.post("/api/v1/quotes", body, content_type="application/json")
    assert response.json()["total"] == "100.00" and response.json()["subtotal"] == "49.00"
    assert Plan.objects.count() == before
    wrong = client.post("/api/v1/quotes", {**body, "currency": "EUR"}, content_type="application/json")
    assert wrong.status_code == 400 and "priced in USD" in wrong.json()["currency"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "ABC"}, "currency"),
        ({"usage": {"api_calls": "abc"}}, "usage.api_calls"),
        ({"usage": {"api_calls": "-5"}}, "usage.api_calls"),
        ({"usage": ["api_calls"]}, "usage"),
        ({"minimum_commitment": "lots"}, "minimum_commitment"),
        ({"plan": "nope", "charges": None}, "plan"),
    ],
)
def test_quote_bad_input_names_the_field(world, client, metrics, change, field):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = {**QUOTE, **change}
    if body.get("charges") is None:
        body.pop("charges")
        body.pop("minimum_commitment", None)
    response = client.post("/api/v1/quotes", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


@pytest.mark.django_db
def test_calculator_page_prices_a_plan_for_partners_not_customers(world, client, metrics):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    _create(client)
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("quote_calculator"), {"plan": "api-growth", "usage_api_calls": "25000", "calculate": "1"})
    assert page.status_code == 200
    quote = page.context["quote"]
    assert str(quote.total) == "100.00"
    assert "Total per month" in page.content.decode()
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("quote_calculator")).status_code == 403


@pytest.mark.django_db
def test_plan_portal_form_reports_paths(world, client, metrics):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        reverse("plan_create"),
        {"code": "x", "name": "X", "currency": "USD", "is_active": "on",
         "charges": '[{"model": "volume", "metric": "api_calls", "tiers": [{"up_to": 5, "unit_amount": "1"}]}]'},
    )  # fmt: skip
    assert response.status_code == 200
    assert any("charges[0].tiers" in error for error in response.context["form"].errors["charges"])
    response = client.post(
        reverse("plan_create"),
        {"code": "x", "name": "X", "currency": "USD", "is_active": "on", "charges": json.dumps([PLATFORM_FEE])},
    )  # fmt: skip
    plan = Plan.objects.get(code="x")
    assert response.status_code == 302 and response["Location"] == plan.get_absolute_url()
    assert client.get(plan.get_absolute_url()).status_code == 200
