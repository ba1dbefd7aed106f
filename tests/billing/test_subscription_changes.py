"""Plan and commitment changes mid-period: prorated fees, usage split at the moment, history.

Worked amounts are computed by hand in the comments; October 2026 has 2,678,400 seconds.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from prm.billing.services import invoice_refresh_draft, subscription_rate
from prm.core.periods import BillingPeriod
from prm.customers.models import SubscriptionChange
from prm.customers.services import (
    subscription_change_cancel,
    subscription_change_commitment,
    subscription_change_plan,
    subscription_create,
    subscription_end,
)
from prm.plans.services import plan_create, plan_update
from tests.billing.conftest import OCTOBER, at, close

PLAN_A = [{"model": "flat", "amount": "310"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
PLAN_B = [{"model": "flat", "amount": "620"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.02"}]
CHANGE_MOMENT = datetime(2026, 10, 16, 12, 30, tzinfo=UTC)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def upgraded(world, make_plan, subscribe, send):
    """A1 on plan A from 1 October, moved to plan B at 16 October 12:30 (inside an hour)."""
    plan_a, plan_b = make_plan("p-a", PLAN_A), make_plan("p-b", PLAN_B)
    subscription = subscribe(plan_a)
    send(
        ("cus_a1", "api_calls", at(5), {"calls": 1000}),
        ("cus_a1", "api_calls", "2026-10-16T12:10:00+00:00", {"calls": 100}),  # before the change: plan A
        ("cus_a1", "api_calls", "2026-10-16T12:45:00+00:00", {"calls": 200}),  # after it, same hour: plan B
        ("cus_a1", "api_calls", at(20), {"calls": 1000}),
    )
    change = subscription_change_plan(
        actor=world.manager, subscription=subscription, plan=plan_b, effective_at=CHANGE_MOMENT, reason="upgrade"
    )
    subscription.refresh_from_db()
    return subscription, change, plan_a, plan_b


@pytest.mark.django_db
def test_plan_change_prorates_flat_fees_and_splits_usage_at_the_moment(upgraded):
    subscription, change, plan_a, plan_b = upgraded
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    lines = list(invoice.lines.all())
    # Plan A for 1,341,000 s: 310 × 1341000 / 2678400 = 155.2083… → 155.21; 1,100 calls × 0.01 = 11.00.
    # Plan B for 1,337,400 s: 620 × 1337400 / 2678400 = 309.5833… → 309.58; 1,200 calls × 0.02 = 24.00.
    assert [(line.model, line.quantity, line.amount) for line in lines] == [
        ("flat", Decimal(1), Decimal("155.21")),
        ("per_unit", Decimal(1100), Decimal("11.00")),
        ("flat", Decimal(1), Decimal("309.58")),
        ("per_unit", Decimal(1200), Decimal("24.00")),
    ]
    assert invoice.total == Decimal("499.79") == sum(line.amount for line in lines)
    assert lines[0].description.startswith("p-a v1 from 1 Oct 00:00 to 16 Oct 12:30: Flat fee of 310 per period")
    assert lines[2].description.startswith("p-b v1 from 16 Oct 12:30 to 1 Nov 00:00: ")
    assert lines[1].charge["phase"] == {
        "plan": "p-a", "version": 1, "start": "2026-10-01T00:00:00+00:00", "end": "2026-10-16T12:30:00+00:00",
    }  # fmt: skip
    assert lines[2].charge["prorated"] == {"active_seconds": 1337400, "period_seconds": 2678400}
    assert invoice.plan_version == plan_b.current_version
    # The history says what changed, when, and by whom.
    assert change.from_plan_version == plan_a.current_version and change.to_plan_version == plan_b.current_version
    assert subscription.terms_at(_moment("2026-10-16T12:29:59+00:00")).plan_version_id == plan_a.current_version.pk
    assert subscription.terms_at(CHANGE_MOMENT).plan_version_id == plan_b.current_version.pk


@pytest.mark.django_db
def test_a_plan_left_mid_period_keeps_its_prices(world, upgraded):
    """Plan A still prices the first half of October: editing it must add a version, not rewrite v1."""
    _subscription, _change, plan_a, _plan_b = upgraded
    before = plan_a.versions.get(version=1).charges
    plan_update(actor=world.manager, plan=plan_a, charges=[{"model": "flat", "amount": "999"}])
    assert plan_a.versions.count() == 2
    assert plan_a.versions.get(version=1).charges == before


@pytest.mark.django_db
def test_commitment_raised_mid_period_is_owed_for_the_time_it_applied(world, make_plan, subscribe, send):
    plan = make_plan("metered", [PLAN_A[1]])
    subscription = subscribe(plan, commitment=Decimal("310"))
    send(("cus_a1", "api_calls", at(2), {"calls": 1000}))
    subscription_change_commitment(
        actor=world.manager, subscription=subscription, commitment=Decimal("620"),
        effective_at=_moment("2026-10-16T00:00:00+00:00"),
    )  # fmt: skip
    subscription.refresh_from_db()
    quote = subscription_rate(subscription=subscription, period=OCTOBER)
    # 310 for 15 days and 620 for 16 days: (310 × 15 + 620 × 16) / 31 = 470.00; usage 10.00, true-up 460.00.
    assert [(line.model, line.amount) for line in quote.lines] == [
        ("per_unit", Decimal("10.00")),
        ("minimum_commitment", Decimal("460.00")),
    ]
    assert quote.total == Decimal("470.00")
    assert "(commitment 310 for 15 days, then 620 for 16 days, of 31 days)" in quote.lines[1].description
    invoice = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert [segment["amount"] for segment in invoice.lines.last().charge["segments"]] == ["310", "620"]


@pytest.mark.django_db
def test_commitment_lowered_at_the_end_of_the_period_only(world, make_plan, subscribe):
    plan = make_plan("metered", [PLAN_A[1]])
    subscription = subscribe(plan, commitment=Decimal("500"))
    now = datetime.now(UTC)
    current = BillingPeriod.containing(now)
    # A partner admin lowers it: it takes effect when the current period ends, not before.
    change = subscription_change_commitment(actor=world.admin_a, subscription=subscription, commitment=Decimal("100"))
    assert change.effective_at == current.end and change.from_commitment == Decimal("500")
    subscription.refresh_from_db()
    assert subscription.terms_at(now).commitment == Decimal("500")
    assert subscription.terms_at(current.end).commitment == Decimal("100")
    assert subscription_rate(subscription=subscription, period=current).total == Decimal("500.00")
    assert subscription_rate(subscription=subscription, period=current.next()).total == Decimal("100.00")

    # Lowering inside a period, or before the current one ends, is refused with the reason.
    other = subscribe(make_plan("seats", [{"model": "per_unit", "metric": "seats", "unit_amount": "1"}]),
                      commitment=Decimal("500"))  # fmt: skip
    for moment in (now + (current.end - now) / 2, current.start):
        with pytest.raises(ValidationError) as error:
            subscription_change_commitment(
                actor=world.admin_a, subscription=other, commitment=Decimal("100"), effective_at=moment
            )
        assert "lowered at the end of a billing period" in error.value.message_dict["effective_at"][0]
    assert not other.changes.exists()


@pytest.mark.django_db
def test_changes_of_a_kind_follow_each_other_and_a_scheduled_one_can_be_cancelled(world, make_plan, subscribe):
    subscription = subscribe(make_plan("metered", [PLAN_A[1]]), commitment=Decimal("500"))
    lowered = subscription_change_commitment(actor=world.admin_a, subscription=subscription, commitment=Decimal("100"))
    # A raise now would slip in before the scheduled lowering: refused until that is cancelled.
    with pytest.raises(ValidationError) as error:
        subscription_change_commitment(actor=world.admin_a, subscription=subscription, commitment=Decimal("800"))
    assert "cancel it first" in error.value.message_dict["effective_at"][0]

    subscription_change_cancel(actor=world.admin_a, change=lowered)
    subscription.refresh_from_db()
    assert subscription.commitment == Decimal("500")
    raised = subscription_change_commitment(actor=world.admin_a, subscription=subscription, commitment=Decimal("800"))
    subscription.refresh_from_db()
    assert subscription.commitment == Decimal("800") and raised.from_commitment == Decimal("500")
    # Both stay in the history; the cancelled one no longer counts.
    history = [(change.to_commitment, change.is_cancelled) for change in subscription.changes.all()]
    assert history == [(Decimal("100"), True), (Decimal("800"), False)]  # newest effective first
    # A change in effect cannot be cancelled.
    with pytest.raises(ValidationError, match="took effect"):
        subscription_change_cancel(actor=world.admin_a, change=raised)


@pytest.mark.django_db
def test_bad_changes_are_refused_naming_the_field(world, make_plan, subscribe):
    plan = make_plan("metered", [PLAN_A[1]])
    subscription = subscribe(plan)
    euro = plan_create(actor=world.manager, code="euro", name="Euro", currency="EUR", charges=PLAN_A)
    cases = [
        ({"plan": euro}, "plan", "priced in EUR"),
        ({"plan": plan}, "plan", "already on metered v1"),
        ({"plan": make_plan("p-b", PLAN_B), "effective_at": _moment("2026-09-01T00:00:00+00:00")}, "effective_at",
         "started"),
    ]  # fmt: skip
    for fields, field, message in cases:
        with pytest.raises(ValidationError) as error:
            subscription_change_plan(actor=world.manager, subscription=subscription, **fields)
        assert message in error.value.message_dict[field][0], fields
    # A closed period's invoices are final: nothing takes effect inside it.
    close(OCTOBER)
    with pytest.raises(ValidationError) as error:
        subscription_change_commitment(
            actor=world.manager, subscription=subscription, commitment=Decimal("50"), effective_at=_moment(at(20))
        )
    assert "is closed" in error.value.message_dict["effective_at"][0]
    with pytest.raises(ValidationError) as error:
        subscription_change_commitment(actor=world.manager, subscription=subscription, commitment=Decimal("0.001"))
    assert "more decimals than USD" in error.value.message_dict["commitment"][0]
    # Only managers backdate; reps, customers and other partners may not change it at all.
    with pytest.raises(ValidationError) as error:
        subscription_change_plan(
            actor=world.admin_a, subscription=subscription, plan=make_plan("p-c", PLAN_B),
            effective_at=_moment("2026-11-02T00:00:00+00:00"),
        )  # fmt: skip
    assert "only channel managers backdate" in error.value.message_dict["effective_at"][0]
    with pytest.raises(PermissionDenied):
        subscription_change_commitment(actor=world.rep_a, subscription=subscription, commitment=Decimal("900"))
    with pytest.raises(Exception) as error:
        subscription_change_commitment(actor=world.admin_b, subscription=subscription, commitment=Decimal("900"))
    assert error.type.__name__ == "DoesNotExist"
    assert not SubscriptionChange.objects.exists()


@pytest.mark.django_db
def test_a_metric_is_billed_by_one_subscription_of_a_customer(world, make_plan, subscribe):
    calls = make_plan("calls", [PLAN_A[1]])
    seats = make_plan("seats", [{"model": "per_unit", "metric": "seats", "unit_amount": "8"}])
    subscribe(calls)
    with pytest.raises(ValidationError) as error:
        subscribe(make_plan("calls-2", PLAN_B), external_id="sub_second")
    assert "already bills api_calls" in error.value.message_dict["plan"][0]
    second = subscribe(seats)  # another metric: fine
    with pytest.raises(ValidationError) as error:
        subscription_change_plan(actor=world.manager, subscription=second, plan=make_plan("calls-3", PLAN_B))
    assert "already bills api_calls" in error.value.message_dict["plan"][0]
    # Not at the same time: a subscription that ended before is no conflict.
    subscription_create(
        actor=world.manager, plan=calls, customer=world.customer_a2, external_id="sub_a2_old",
        started_at=_moment("2026-09-01T00:00:00+00:00"), ended_at=_moment("2026-10-01T00:00:00+00:00"),
    )  # fmt: skip
    subscribe(calls, customer=world.customer_a2)


@pytest.mark.django_db
def test_ending_a_subscription_prorates_its_last_period(world, make_plan, subscribe):
    subscription = subscribe(make_plan("p-a", PLAN_A))
    subscription_end(actor=world.manager, subscription=subscription, ended_at=_moment("2026-10-11T12:00:00+00:00"))
    subscription.refresh_from_db()
    assert subscription.status == "ended"
    # 10.5 of 31 days of 310 = 105.00 exactly.
    assert subscription_rate(subscription=subscription, period=OCTOBER).total == Decimal("105.00")
    with pytest.raises(ValidationError, match="has ended"):
        subscription_change_commitment(actor=world.manager, subscription=subscription, commitment=Decimal("1"))


# --- over HTTP --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_changes_plan_and_commitment_and_lists_the_history(world, client, make_plan, subscribe):
    subscription = subscribe(make_plan("p-a", PLAN_A), commitment=Decimal("300"))
    make_plan("p-b", PLAN_B)
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    base = f"/api/v1/subscriptions/{subscription.pk}"

    answer = client.post(f"{base}/change-plan/", {"plan": "p-b", "reason": "more traffic"}, "application/json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["plan_code"] == "p-b"
    assert body["changes"][0]["kind"] == "plan" and body["changes"][0]["status"] == "effective"
    assert body["changes"][0]["from_plan"] == {"code": "p-a", "version": 1}

    answer = client.post(f"{base}/change-commitment/", {"commitment": "100"}, "application/json")
    assert answer.status_code == 200, answer.json()
    scheduled = answer.json()["changes"][0]
    assert scheduled["status"] == "scheduled" and scheduled["to_commitment"] == "100.000"

    answer = client.post(f"{base}/change-commitment/", {"commitment": "-5"}, "application/json")
    assert answer.status_code == 400 and "commitment" in answer.json()
    answer = client.post(f"{base}/change-plan/", {"plan": "nope"}, "application/json")
    assert answer.status_code == 400 and "plan" in answer.json()

    listed = client.get("/api/v1/subscription-changes/").json()
    assert listed["count"] == 2
    answer = client.post(f"/api/v1/subscription-changes/{scheduled['id']}/cancel/")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"

    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    answer = client.post(f"{base}/change-commitment/", {"commitment": "900"}, "application/json")
    assert answer.status_code == 403
    client.force_login(world.admin_b, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(f"{base}/change-commitment/", {"commitment": "900"}, "application/json").status_code == 404
    assert SubscriptionChange.objects.count() == 2


@pytest.mark.django_db
def test_subscription_page_shows_terms_history_and_takes_a_change(world, client, make_plan, subscribe):
    subscription = subscribe(make_plan("p-a", PLAN_A), commitment=Decimal("300"))
    plan_b = make_plan("p-b", PLAN_B)
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("subscription_detail", args=[subscription.pk])
    answer = client.post(
        reverse("subscription_change_plan", args=[subscription.pk]), {"plan-plan": plan_b.pk, "plan-reason": "grow"}
    )
    assert answer.status_code == 302 and answer.url == url
    answer = client.post(
        reverse("subscription_change_commitment", args=[subscription.pk]), {"commitment-commitment": "50"}
    )
    assert answer.status_code == 302
    page = client.get(url).content.decode()
    assert "P-B" in page and "p-a v1 → p-b v1" in page and "grow" in page
    assert "commitment 300 → 50" in page and "Cancel it" in page  # lowered: scheduled for the period's end
    assert "Change plan" in page
    customer_page = client.get(reverse("customer_detail", args=[world.customer_a1.pk])).content.decode()
    assert subscription.external_id in customer_page and "commitment 300 → 50 from" in customer_page

    # A bad value comes back as a message naming the field; nothing is recorded.
    answer = client.post(reverse("subscription_change_commitment", args=[subscription.pk]),
                         {"commitment-commitment": "50.0001"}, follow=True)  # fmt: skip
    assert "Commitment:" in answer.content.decode()
    assert subscription.changes.count() == 2

    # A rep sees the subscription but not the forms.
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(url).content.decode()
    assert "p-a v1 → p-b v1" in page and "Change plan" not in page
