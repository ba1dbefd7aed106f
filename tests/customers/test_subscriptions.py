"""Subscriptions: who may subscribe whom, and Lago-shaped usage naming a subscription."""

import json

import pytest

from prm.customers.models import Subscription
from prm.plans.models import Metric
from prm.plans.services import plan_create, plan_update
from prm.usage.models import QuarantinedEvent, UsageEvent


@pytest.fixture
def plan(world):
    Metric.objects.create(code="calls", name="Calls", unit="call", aggregation="sum", field="calls")
    return plan_create(
        actor=world.manager, code="api", name="API", currency="USD",
        charges=[{"model": "per_unit", "metric": "calls", "unit_amount": "0.01"}],
    )  # fmt: skip


def _subscribe(client, **body):
    body = {"external_id": "sub_a1", "customer": "cus_a1", "plan": "api", "started_at": "2026-11-01T00:00:00Z", **body}
    return client.post("/api/v1/subscriptions/", body, content_type="application/json")


@pytest.mark.django_db
def test_partner_admin_subscribes_own_customers_only(world, client, plan):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    created = _subscribe(client)
    assert created.status_code == 201, created.json()
    assert created.json()["plan_code"] == "api" and created.json()["plan_version"] == 1
    other = _subscribe(client, external_id="sub_b1", customer="cus_b1")
    assert other.status_code == 400 and "does not exist" in other.json()["customer"][0]
    for user in (world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert _subscribe(client, external_id="sub_x").status_code == 403
    assert list(Subscription.objects.values_list("external_id", flat=True)) == ["sub_a1"]


@pytest.mark.django_db
def test_currency_must_match_and_dates_must_make_sense(world, client, plan):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    world.customer_a1.currency = "EUR"
    world.customer_a1.save()
    response = _subscribe(client)
    assert response.status_code == 400 and "priced in USD" in json.dumps(response.json())
    world.customer_a1.currency = "USD"
    world.customer_a1.save()
    response = _subscribe(client, ended_at="2026-10-01T00:00:00Z")
    assert response.status_code == 400
    assert Subscription.objects.count() == 0


@pytest.mark.django_db
def test_a_used_version_is_frozen_and_edits_add_a_version(world, client, plan):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    _subscribe(client)
    plan_update(
        actor=world.manager, plan=plan, charges=[{"model": "per_unit", "metric": "calls", "unit_amount": "0.02"}]
    )
    plan.refresh_from_db()
    assert plan.current_version.version == 2
    subscription = Subscription.objects.get()
    assert subscription.plan_version.version == 1  # the running subscription keeps its prices
    assert subscription.plan_version.charges[0]["unit_amount"] == "0.01"


@pytest.mark.django_db
def test_lago_events_naming_a_subscription_reach_its_customer(world, client, plan):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    _subscribe(client)
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    event = {"transaction_id": "t1", "external_subscription_id": "sub_a1", "code": "calls",
             "timestamp": "2026-11-02T10:00:00Z", "properties": {"calls": 5}}  # fmt: skip
    response = client.post("/api/v1/events", {"event": event}, content_type="application/json")
    assert response.json()["event"]["status"] == "accepted"
    stored = UsageEvent.objects.get()
    assert (stored.customer, stored.subscription_external_id, stored.source) == (
        world.customer_a1, "sub_a1", "lago:sub:sub_a1",
    )  # fmt: skip
    # Another partner's key cannot reach that subscription: it waits, as if unknown.
    client.force_login(world.admin_b, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        "/api/v1/events", {"event": {**event, "transaction_id": "t2"}}, content_type="application/json"
    )
    assert response.json()["event"]["status"] == "quarantined"
    assert QuarantinedEvent.objects.get().reason == "unknown_subscription"
    # A customer id that contradicts the subscription is an error on that field.
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    clash = {**event, "transaction_id": "t3", "external_customer_id": "cus_a2"}
    response = client.post("/api/v1/events", {"event": clash}, content_type="application/json")
    assert response.status_code == 400 and "external_customer_id" in response.json()["errors"]
