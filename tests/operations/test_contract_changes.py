"""The price-impact preview of a contract change: the API, and the portal's Preview → Confirm.

The clock stands at 11 November 2026 00:00 UTC: 10 of November's 30 days have passed. A1 is on
"basic" (a flat 100 and 0.01 a call) since 1 October, committed to 300 a period; it made 30,000
calls in October and 10,000 so far in November (1,000 a day: 30,000 projected for November).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from prm.billing.services import invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionChange
from prm.customers.services import contract_policy_update, subscription_create
from prm.operations.contract_changes import contract_change_preview
from prm.plans.models import Plan
from prm.plans.services import metric_create, plan_create
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent

NOW = datetime(2026, 11, 11, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)
BASIC = [{"model": "flat", "amount": "100"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
PRO = [{"model": "flat", "amount": "300"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.008"}]


@pytest.fixture
def a1(world, monkeypatch) -> Subscription:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    metric_create(
        actor=world.manager, code="api_calls", name="API calls", unit="call", aggregation="sum", field="calls"
    )
    for code, charges in (("basic", BASIC), ("pro", PRO)):
        plan_create(actor=world.manager, code=code, name=code.title(), currency="USD", charges=charges)
    subscription = subscription_create(
        actor=world.manager, plan=Plan.objects.get(code="basic"), customer=world.customer_a1, external_id="sub_a1",
        started_at=datetime(2026, 10, 1, tzinfo=UTC), commitment=Decimal("300"),
    )  # fmt: skip
    events = [
        cloudevent(index, {"specversion": "1.0", "id": f"cc-{index}", "source": "tests", "type": "api_calls",
                           "subject": "cus_a1", "time": time, "data": {"calls": calls}})
        for index, (time, calls) in enumerate(
            [("2026-10-15T10:00:00Z", 30000), ("2026-11-02T10:00:00Z", 4000), ("2026-11-09T10:00:00Z", 6000)]
        )
    ]  # fmt: skip
    assert events_ingest(events, actor=world.manager).accepted == 3
    return subscription


def _preview(client, user, subscription, body):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.post(
        reverse("subscription-change-preview", args=[subscription.pk]), body, content_type="application/json"
    )


@pytest.mark.django_db
def test_a_commitment_raise_previewed_line_by_line(world, client, a1):
    answer = _preview(client, world.customer_user_a1, a1, {"kind": "commitment", "commitment": "1000"})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["subscription"], body["summary"], body["effective_at"]) == (
        "sub_a1", "commitment 300 → 1000", "2026-11-11T00:00:00+00:00",
    )  # fmt: skip
    assert (body["reduction"], body["approval_required"], body["currency"]) == (False, False, "USD")
    assert body["from"] == {"plan": {"code": "basic", "version": 1}, "commitment": "300"}
    assert body["to"] == {"plan": {"code": "basic", "version": 1}, "commitment": "1000"}
    # November projected: 100 + 30,000 × 0.01 = 400.00 as is (above 300). With the change: 300 for 10 days and
    # 1,000 for 20, (300 × 10 + 1,000 × 20) / 30 = 766.666… → 766.67 owed, a true-up of 366.67.
    current = body["open_period"]
    assert (current["period"], current["usage"]) == ("2026-11", {"api_calls": "30000"})
    assert current["rows"] == [
        {"item": "Flat fees", "metric": None, "as_is": "100.00", "with_change": "100.00", "difference": "0.00"},
        {"item": "api_calls usage", "metric": "api_calls", "as_is": "300.00", "with_change": "300.00",
         "difference": "0.00"},
        {"item": "Minimum commitment true-up", "metric": None, "as_is": "0.00", "with_change": "366.67",
         "difference": "366.67"},
    ]  # fmt: skip
    assert (current["as_is"]["total"], current["with_change"]["total"], current["difference"]) == (
        "400.00", "766.67", "366.67",
    )  # fmt: skip
    # A full period at October's 30,000 calls: 400.00 as is, the 1,000 minimum with the change.
    full = body["full_period"]
    assert (full["usage_period"], full["as_is"]["total"], full["with_change"]["total"], full["difference"]) == (
        "2026-10", "400.00", "1000.00", "600.00",
    )  # fmt: skip
    assert not SubscriptionChange.objects.exists()  # a preview writes nothing


@pytest.mark.django_db
def test_a_plan_change_previewed_prorates_and_splits_the_projection(world, client, a1):
    answer = _preview(client, world.admin_a, a1, {"kind": "plan", "plan": "pro"})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    # basic for 10 days: 100 × 10/30 = 33.33 and the 10,000 calls so far × 0.01 = 100.00; pro for 20 days:
    # 300 × 20/30 = 200.00 and 20,000 calls at the pace so far × 0.008 = 160.00. 493.33 against 400.00.
    assert [(row["item"], row["as_is"], row["with_change"]) for row in body["open_period"]["rows"]] == [
        ("Flat fees", "100.00", "233.33"), ("api_calls usage", "300.00", "260.00"),
    ]  # fmt: skip
    assert body["open_period"]["difference"] == "93.33"
    assert [line["amount"] for line in body["open_period"]["with_change"]["lines"]] == [
        "33.33", "100.00", "200.00", "160.00",
    ]  # fmt: skip
    # A full period at October's usage: basic 100 + 300 = 400.00; pro 300 + 30,000 × 0.008 = 540.00.
    assert (body["full_period"]["with_change"]["total"], body["full_period"]["difference"]) == ("540.00", "140.00")
    assert body["reduction"] is False  # pro costs at least 300 a period, as much as the 300 committed


@pytest.mark.django_db
def test_a_lowering_previewed_says_when_and_that_it_needs_approval(world, client, a1):
    contract_policy_update(actor=world.manager, approval="reductions")
    answer = _preview(client, world.customer_user_a1, a1, {"kind": "commitment", "commitment": None})
    body = answer.json()
    assert (body["effective_at"], body["reduction"], body["approval_required"]) == (
        "2026-12-01T00:00:00+00:00", True, True,
    )  # fmt: skip
    assert body["open_period"]["difference"] == "0.00"  # from December on
    assert body["full_period"]["difference"] == "0.00"  # October's 400.00 is above 300 anyway
    assert body["to"]["commitment"] is None


@pytest.mark.django_db
def test_the_preview_refuses_what_the_change_would(world, client, a1):
    contract_policy_update(actor=world.manager, commitment_step=Decimal("50"))
    answer = _preview(client, world.customer_user_a1, a1, {"kind": "commitment", "commitment": "1025"})
    assert answer.status_code == 400 and "not a multiple of 50" in answer.json()["commitment"][0]
    answer = _preview(client, world.customer_user_a1, a1, {"kind": "plan"})
    assert answer.status_code == 400 and answer.json()["plan"] == ["A plan change names the plan to move to."]
    answer = _preview(client, world.customer_user_a1, a1, {"kind": "plan", "plan": "basic"})
    assert answer.status_code == 400 and "already on basic v1" in answer.json()["plan"][0]
    assert (
        _preview(client, world.customer_viewer_a1, a1, {"kind": "commitment", "commitment": "1000"}).status_code == 403
    )
    assert _preview(client, world.rep_a, a1, {"kind": "commitment", "commitment": "1000"}).status_code == 403
    assert _preview(client, world.admin_b, a1, {"kind": "commitment", "commitment": "1000"}).status_code == 404


@pytest.mark.django_db
def test_too_early_in_the_period_the_open_period_is_not_projected(world, a1, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 1, 6, tzinfo=UTC))
    preview = contract_change_preview(
        actor=world.customer_user_a1, subscription=a1, kind="commitment", commitment=Decimal("1000")
    )
    body = preview.as_dict()
    assert body["open_period"] is None and "too early" in body["open_period_note"]
    assert body["full_period"]["difference"] == "600.00"


@pytest.mark.django_db
def test_the_portal_previews_then_confirms(world, client, a1):
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("subscription_change_preview", args=[a1.pk])
    page = client.get(url, {"kind": "commitment", "commitment-commitment": "1000"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "commitment 300 → 1000" in html and "2026-11-11 00:00 UTC" in html
    assert "766.67" in html and "+366.67" in html and "Confirm the change" in html
    assert f'action="{reverse("subscription_change_commitment", args=[a1.pk])}"' in html
    assert 'name="commitment-commitment" value="1000"' in html
    # A bad value comes back on the page, on its field, without a confirm button.
    contract_policy_update(actor=world.manager, commitment_step=Decimal("50"), approval="reductions")
    html = client.get(url, {"kind": "commitment", "commitment-commitment": "1025"}).content.decode()
    assert "not a multiple of 50" in html and "Confirm the change" not in html
    # A lowering that needs approval says so before it is asked for.
    html = client.get(url, {"kind": "commitment", "commitment-commitment": "250"}).content.decode()
    assert "Ask for approval" in html and "2026-12-01 00:00 UTC" in html
    assert not SubscriptionChange.objects.exists()
    # Step 2: the confirm form posts the same fields to the change itself.
    answer = client.post(
        reverse("subscription_change_commitment", args=[a1.pk]),
        {"commitment-commitment": "1000", "commitment-effective_at": "", "commitment-reason": ""},
    )
    assert answer.status_code == 302
    a1.refresh_from_db()
    assert a1.commitment == Decimal("1000")

    # Viewers may look at the subscription, not change it.
    client.force_login(world.customer_viewer_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(url).status_code == 403
    assert "Preview the change" not in client.get(a1.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_the_customer_dashboard_leads_admins_to_the_change(world, client, a1):
    invoice_refresh_draft(subscription=a1, period=BillingPeriod(2026, 11))
    link = f'href="{a1.get_absolute_url()}">Change the plan or commitment of sub_a1'
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert link in client.get(reverse("home")).content.decode()
    client.force_login(world.customer_viewer_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert link not in client.get(reverse("home")).content.decode()
