"""Self-service contract changes: customer admins change their plan and commitment within the
program's contract rules; some changes wait for a channel manager's approval.

The clock stands at 10 November 2026 12:00 UTC (20.5 days before the period ends). A1 is on
"basic" (a flat 100 and 0.01 a call) since 1 October, committed to 500 a period.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prm.billing.services import subscription_rate
from prm.core.periods import BillingPeriod
from prm.customers.models import ContractPolicy, Subscription, SubscriptionChange
from prm.customers.services import (
    contract_policy_update,
    subscription_change_approve,
    subscription_change_commitment,
    subscription_change_plan,
    subscription_change_propose,
    subscription_change_reject,
    subscription_create,
    subscription_end,
)
from prm.notifications.models import Notification, WebhookDelivery
from prm.notifications.services import unread_count
from prm.notifications.webhooks import webhook_endpoint_create
from prm.plans.services import metric_create, plan_create

NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)
NOVEMBER = BillingPeriod(2026, 11)
DECEMBER = NOVEMBER.next()
BASIC = [{"model": "flat", "amount": "100"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
PRO = [{"model": "flat", "amount": "300"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.008"}]
ENTERPRISE = [{"model": "flat", "amount": "1000"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.005"}]


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def plans(world, clock):
    metric_create(
        actor=world.manager, code="api_calls", name="API calls", unit="call", aggregation="sum", field="calls"
    )

    def make(code, charges, minimum=None):
        return plan_create(
            actor=world.manager, code=code, name=code.title(), currency="USD", charges=charges,
            minimum_commitment=minimum,
        )  # fmt: skip

    return {"basic": make("basic", BASIC), "pro": make("pro", PRO), "enterprise": make("enterprise", ENTERPRISE)}


@pytest.fixture
def a1(world, plans) -> Subscription:
    return subscription_create(
        actor=world.manager, plan=plans["basic"], customer=world.customer_a1, external_id="sub_a1",
        started_at=datetime(2026, 10, 1, tzinfo=UTC), commitment=Decimal("500"),
    )  # fmt: skip


def _rules(world, **fields):
    return contract_policy_update(actor=world.manager, **fields)


def _post(client, user, url, body):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.post(url, body, content_type="application/json")


def _api(subscription, action):
    return f"/api/v1/subscriptions/{subscription.pk}/{action}/"


# --- who may change what ------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_admin_raises_now_and_lowers_at_the_period_end(world, client, a1):
    answer = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "800"})
    assert answer.status_code == 200, answer.json()
    raised = answer.json()["changes"][0]
    assert (raised["status"], raised["approval"], raised["to_commitment"]) == ("effective", "not_required", "800.000")
    assert answer.json()["commitment"] == "800.000"
    assert SubscriptionChange.objects.get(pk=raised["id"]).effective_at == NOW

    answer = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "600"})
    assert answer.status_code == 200, answer.json()
    lowered = SubscriptionChange.objects.get(pk=answer.json()["changes"][0]["id"])
    assert lowered.effective_at == DECEMBER.start and lowered.from_commitment == Decimal("800")
    a1.refresh_from_db()
    assert a1.terms_at(NOW).commitment == Decimal("800") and a1.terms_at(DECEMBER.start).commitment == Decimal("600")
    assert lowered.requested_by == world.customer_user_a1


@pytest.mark.django_db
def test_viewers_reps_and_other_customers_may_not(world, client, a1, plans):
    body = {"commitment": "900"}
    viewer = _post(client, world.customer_viewer_a1, _api(a1, "change-commitment"), body)
    assert viewer.status_code == 403
    rep = _post(client, world.rep_a, _api(a1, "change-commitment"), body)  # reps look after, admins change
    assert rep.status_code == 403
    a2 = subscription_create(
        actor=world.manager, plan=plans["basic"], customer=world.customer_a2, external_id="sub_a2",
        started_at=datetime(2026, 10, 1, tzinfo=UTC),
    )  # fmt: skip
    other = _post(client, world.customer_user_a1, _api(a2, "change-commitment"), body)
    assert other.status_code == 404
    preview = _post(client, world.customer_user_a1, _api(a2, "change-preview"), {"kind": "commitment", **body})
    assert preview.status_code == 404
    # The program may keep customers out of it; their partner admin still changes it for them.
    _rules(world, customer_self_service=False)
    refused = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), body)
    assert refused.status_code == 403 and "contract rules" in refused.json()["detail"]
    assert _post(client, world.admin_a, _api(a1, "change-commitment"), body).status_code == 200
    assert list(SubscriptionChange.objects.values_list("requested_by", flat=True)) == [world.admin_a.pk]


@pytest.mark.django_db
def test_customer_admins_do_not_end_subscriptions(world, a1):
    with pytest.raises(PermissionDenied, match="end subscriptions"):
        subscription_end(actor=world.customer_user_a1, subscription=a1)


# --- the contract rules -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_plan_outside_the_self_service_set_is_refused_naming_plan(world, client, a1, plans):
    _rules(world, plan_choice="chosen", self_service_plans=[plans["basic"], plans["pro"]])
    answer = _post(client, world.customer_user_a1, _api(a1, "change-plan"), {"plan": "enterprise"})
    assert answer.status_code == 400
    assert "enterprise is not one of the plans" in answer.json()["plan"][0]
    assert "basic, pro" in answer.json()["plan"][0]
    # A channel manager is not bound by the self-service set.
    assert _post(client, world.manager, _api(a1, "change-plan"), {"plan": "enterprise"}).status_code == 200
    assert not SubscriptionChange.objects.filter(requested_by=world.customer_user_a1).exists()


@pytest.mark.django_db
def test_a_commitment_off_the_step_or_below_the_floors_is_refused(world, client, a1, plans):
    _rules(world, commitment_step=Decimal("50"), commitment_minimum=Decimal("200"))
    cases = [
        ("125", "125 is not a multiple of 50: the contract rules take commitments in steps of 50 (for example 100 or "
                "150)."),
        ("150", "150 is below the lowest commitment the contract rules allow, 200 per period."),
    ]  # fmt: skip
    for value, message in cases:
        answer = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": value})
        assert answer.status_code == 400 and answer.json()["commitment"] == [message], answer.json()
    # Never below the plan's own minimum: a plan that holds its customers to 400.
    plan_create(actor=world.manager, code="min400", name="Min", currency="USD", charges=BASIC, minimum_commitment="400")
    _post(client, world.manager, _api(a1, "change-plan"), {"plan": "min400"})
    answer = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "350"})
    assert answer.status_code == 400
    assert "below the minimum commitment of min400, 400" in answer.json()["commitment"][0]
    # …nor may a plan change leave the subscription's own commitment below the new plan's minimum.
    _post(client, world.manager, _api(a1, "change-commitment"), {"commitment": "300", "effective_at": DECEMBER.start})
    plan_create(actor=world.manager, code="min600", name="Min6", currency="USD", charges=PRO, minimum_commitment="600")
    answer = _post(
        client, world.customer_user_a1, _api(a1, "change-plan"), {"plan": "min600", "effective_at": DECEMBER.start}
    )
    assert answer.status_code == 400 and "would fall below it" in answer.json()["plan"][0]


@pytest.mark.django_db
def test_a_lowering_asked_too_late_in_the_period_is_refused_naming_effective_at(world, client, a1):
    _rules(world, lowering_notice_days=25)  # 20.5 days are left in November
    # The rules bind self-service only: a channel manager would lower it at November's end.
    by_manager = subscription_change_propose(
        actor=world.manager, subscription=a1, kind="commitment", commitment=Decimal("300")
    )
    assert by_manager.effective_at == DECEMBER.start and not by_manager.approval_required
    answer = _post(
        client, world.customer_user_a1, _api(a1, "change-commitment"),
        {"commitment": "300", "effective_at": DECEMBER.start.isoformat()},
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["effective_at"] == [
        "A commitment is lowered at the end of a billing period: from 2027-01-01 00:00 UTC (the contract rules ask "
        "for 25 days' notice) at the earliest, or the start of a later period."
    ]
    # Without a date it takes effect at the first period end the notice allows.
    answer = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "300"})
    assert answer.status_code == 200
    assert SubscriptionChange.objects.get().effective_at == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_one_plan_change_a_period(world, client, a1):
    first = _post(client, world.customer_user_a1, _api(a1, "change-plan"), {"plan": "pro"})
    assert first.status_code == 200 and first.json()["plan_code"] == "pro"
    tomorrow = datetime(2026, 11, 11, 12, tzinfo=UTC).isoformat()
    again = _post(client, world.customer_user_a1, _api(a1, "change-plan"), {"plan": "basic", "effective_at": tomorrow})
    assert again.status_code == 400
    assert "the contract rules allow one a billing period" in again.json()["effective_at"][0]
    later = _post(
        client, world.customer_user_a1, _api(a1, "change-plan"), {"plan": "basic", "effective_at": DECEMBER.start}
    )
    assert later.status_code == 200, later.json()
    _rules(world, one_plan_change_per_period=False)
    assert SubscriptionChange.objects.count() == 2


# --- approval -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_lowering_waits_for_approval_without_touching_the_bill(world, client, a1, monkeypatch):
    _rules(world, approval="reductions")
    december_before = subscription_rate(subscription=a1, period=DECEMBER).total
    assert december_before == Decimal("500.00")  # no usage: the flat 100, trued up to the 500 committed

    answer = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "300"})
    assert answer.status_code == 200
    assert answer.json()["commitment"] == "500.000"  # unchanged until approved
    pending = SubscriptionChange.objects.get()
    assert (pending.approval, pending.effective_at, pending.in_force) == ("pending", DECEMBER.start, False)
    assert answer.json()["changes"][0]["status"] == "pending"
    a1.refresh_from_db()
    assert a1.commitment == Decimal("500") and a1.terms_at(DECEMBER.start).commitment == Decimal("500")
    assert subscription_rate(subscription=a1, period=DECEMBER).total == december_before
    # Every channel manager is told, with a link to the subscription.
    told = Notification.objects.get(recipient=world.manager)
    assert told.kind == "contract_change.pending" and told.url == a1.get_absolute_url()
    assert told.title == "Approval needed: sub_a1, commitment 500 → 300"
    # While the lowering waits, no other commitment change can be asked for, not even a raise.
    blocked = _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "900"})
    assert blocked.status_code == 400 and "awaiting approval is pending" in blocked.json()["commitment"][0]

    # Neither the customer nor its partner decides: 403; another partner does not even find it: 404.
    url = f"/api/v1/subscription-changes/{pending.pk}/approve/"
    assert _post(client, world.customer_user_a1, url, {}).status_code == 403
    assert _post(client, world.admin_a, url, {}).status_code == 403
    assert _post(client, world.admin_b, url, {}).status_code == 404
    approved = _post(client, world.manager, url, {"note": "Fine for next year's volumes."})
    assert approved.status_code == 200, approved.json()
    assert (approved.json()["approval"], approved.json()["status"]) == ("approved", "scheduled")
    assert approved.json()["decided_by"] == world.manager.pk
    a1.refresh_from_db()
    assert a1.commitment == Decimal("300") and a1.terms_at(NOW).commitment == Decimal("500")
    assert subscription_rate(subscription=a1, period=NOVEMBER).total == Decimal("500.00")
    assert subscription_rate(subscription=a1, period=DECEMBER).total == Decimal("300.00")
    told = Notification.objects.get(recipient=world.customer_user_a1)
    assert told.kind == "contract_change.approved"
    assert told.body == (
        "Commitment 500 → 300 takes effect 2026-12-01 00:00 UTC. Note from Manager: Fine for next year's volumes."
    )
    again = _post(client, world.manager, url, {})
    assert again.status_code == 400 and "not awaiting approval" in again.json()["change"][0]


@pytest.mark.django_db
def test_an_approval_after_the_asked_moment_takes_effect_from_the_approval(world, a1, plans, monkeypatch):
    _rules(world, approval="all")
    plan_change = subscription_change_plan(actor=world.customer_user_a1, subscription=a1, plan=plans["pro"])
    lowering = subscription_change_commitment(actor=world.customer_user_a1, subscription=a1, commitment=Decimal("300"))
    assert plan_change.is_pending and lowering.is_pending and lowering.effective_at == DECEMBER.start
    # Approved two days later: the plan change from then; the lowering, whose period end has passed by a later
    # approval, at the end of the period the approval falls in.
    two_days_later = datetime(2026, 11, 12, 12, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: two_days_later)
    approved = subscription_change_approve(actor=world.manager, change=plan_change)
    assert approved.effective_at == two_days_later and approved.from_plan_version == plans["basic"].current_version
    in_december = datetime(2026, 12, 3, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: in_december)
    approved = subscription_change_approve(actor=world.manager, change=lowering)
    assert approved.effective_at == datetime(2027, 1, 1, tzinfo=UTC)
    a1.refresh_from_db()
    assert a1.terms_at(in_december).commitment == Decimal("500")
    assert a1.terms_at(datetime(2027, 1, 1, tzinfo=UTC)).commitment == Decimal("300")
    # November: basic for 11.5 days (100 × 11.5/30 = 38.33) and pro for 18.5 (300 × 18.5/30 = 185.00), trued up
    # to the 500 committed.
    november = subscription_rate(subscription=a1, period=NOVEMBER)
    assert [line.amount for line in november.lines if line.model == "flat"] == [Decimal("38.33"), Decimal("185.00")]
    assert november.total == Decimal("500.00")


@pytest.mark.django_db
def test_a_rejected_change_never_counts_and_its_requester_is_told_why(world, client, a1, plans):
    _rules(world, approval="all")
    november_before = subscription_rate(subscription=a1, period=NOVEMBER)
    change = subscription_change_plan(actor=world.customer_user_a1, subscription=a1, plan=plans["pro"])
    assert change.is_pending
    a1.refresh_from_db()
    assert a1.plan_version == plans["basic"].current_version
    assert subscription_rate(subscription=a1, period=NOVEMBER) == november_before  # no phase cut at a pending change
    with pytest.raises(ValidationError) as error:
        subscription_change_reject(actor=world.manager, change=change, note=" ")
    assert "Say why" in error.value.message_dict["note"][0]
    with pytest.raises(PermissionDenied):
        subscription_change_reject(actor=world.customer_user_a1, change=change, note="mine")
    answer = _post(client, world.manager, f"/api/v1/subscription-changes/{change.pk}/reject/", {"note": "Talk to us"})
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    a1.refresh_from_db()
    assert a1.plan_version == plans["basic"].current_version
    assert subscription_rate(subscription=a1, period=NOVEMBER) == november_before
    told = Notification.objects.get(recipient=world.customer_user_a1)
    assert (told.kind, told.title) == ("contract_change.rejected", "Contract change rejected: sub_a1")
    assert told.body.endswith("Note from Manager: Talk to us")
    # Rejected, it no longer holds back another change of its kind (nor is it one of the period's plan changes).
    again = subscription_change_plan(actor=world.manager, subscription=a1, plan=plans["pro"])
    assert again.approval == "not_required" and again.effective_at == NOW


@pytest.mark.django_db
def test_managers_never_wait_and_a_pending_change_can_be_withdrawn(world, client, a1):
    _rules(world, approval="all")
    change = subscription_change_commitment(actor=world.manager, subscription=a1, commitment=Decimal("100"))
    assert change.approval == "not_required" and change.in_force
    withdrawn = subscription_change_commitment(
        actor=world.customer_user_a1,
        subscription=a1,
        commitment=Decimal("50"),
        effective_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert withdrawn.is_pending
    answer = _post(client, world.customer_user_a1, f"/api/v1/subscription-changes/{withdrawn.pk}/cancel/", {})
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    a1.refresh_from_db()
    assert a1.commitment == Decimal("100")
    # A manager's change is withdrawn by a manager.
    answer = _post(client, world.customer_user_a1, f"/api/v1/subscription-changes/{change.pk}/cancel/", {})
    assert answer.status_code == 403


# --- pages --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_subscription_page_offers_preview_and_decisions(world, client, a1, plans):
    _rules(world, approval="reductions", commitment_step=Decimal("50"))
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(a1.get_absolute_url()).content.decode()
    assert "Preview the change" in page and reverse("subscription_change_preview", args=[a1.pk]) in page
    assert "a multiple of 50" in page  # the contract rules, in words
    assert "End it" not in page  # ending stays with the partner and the vendor
    # A link may suggest what to preview (a savings recommendation does).
    page = client.get(a1.get_absolute_url(), {"plan": "pro", "commitment": "1000"}).content.decode()
    assert f'<option value="{plans["pro"].pk}" selected>Pro (pro)</option>' in page
    assert 'name="commitment-commitment" value="1000"' in page
    # Confirming (the preview page's second step posts here): a lowering, sent for approval.
    answer = client.post(
        reverse("subscription_change_commitment", args=[a1.pk]), {"commitment-commitment": "300"}, follow=True
    )
    assert "takes effect once a channel manager approves it" in answer.content.decode()
    change = SubscriptionChange.objects.get()
    assert "Awaiting approval" in answer.content.decode() and "Withdraw it" in answer.content.decode()

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(a1.get_absolute_url()).content.decode()
    assert reverse("subscription_change_approve", args=[change.pk]) in page
    assert reverse("subscription_change_reject", args=[change.pk]) in page
    listing = client.get(reverse("subscription_change_list"), {"approval": "pending"}).content.decode()
    assert "sub_a1" in listing and "commitment 500 → 300" in listing
    answer = client.post(reverse("subscription_change_reject", args=[change.pk]), {"note": ""}, follow=True)
    assert "Say why the change is rejected" in answer.content.decode()
    answer = client.post(reverse("subscription_change_approve", args=[change.pk]), {"note": "ok"})
    assert answer.status_code == 302 and answer.url == a1.get_absolute_url()
    change.refresh_from_db()
    assert change.approval == "approved" and change.decision_note == "ok"

    # Only a manager decides: a customer admin posting the form gets 403.
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(reverse("subscription_change_reject", args=[change.pk]), {"note": "x"}).status_code == 403


@pytest.mark.django_db
def test_managers_set_the_contract_rules_others_read_them(world, client, plans):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("contract_policy")).status_code == 200
    answer = client.post(
        reverse("contract_policy"),
        {"customer_self_service": "on", "plan_choice": "chosen", "self_service_plans": [plans["pro"].pk],
         "commitment_step": "50", "lowering_notice_days": "7", "approval": "reductions"},
    )  # fmt: skip
    assert answer.status_code == 302
    policy = ContractPolicy.current()
    assert (policy.plan_choice, policy.commitment_step, policy.lowering_notice_days, policy.approval) == (
        "chosen", Decimal("50"), 7, "reductions",
    )  # fmt: skip
    assert list(policy.self_service_plans.all()) == [plans["pro"]]
    assert policy.one_plan_change_per_period is False  # an unticked box
    answer = client.post(reverse("contract_policy"), {"plan_choice": "chosen", "approval": "none",
                                                       "lowering_notice_days": "0"})  # fmt: skip
    assert "Choose at least one plan" in answer.content.decode()

    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("contract_policy")).content.decode()
    assert "The plan to move to: one of pro." in page and "Change the rules" not in page
    assert client.post(reverse("contract_policy"), {"approval": "none"}).status_code == 403
    assert ContractPolicy.current().approval == "reductions"


@pytest.mark.django_db
def test_change_list_query_count_is_pinned_and_flat(world, client, plans):
    def queries():
        for user in (world.manager,):
            unread_count(user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("subscription_change_list"))
        assert response.status_code == 200
        return len(captured)

    def changes(customers):
        for customer in customers:
            subscription = subscription_create(
                actor=world.manager, plan=plans["basic"], customer=customer,
                external_id=f"sub_{customer.external_id}", started_at=datetime(2026, 10, 1, tzinfo=UTC),
            )  # fmt: skip
            subscription_change_plan(actor=world.manager, subscription=subscription, plan=plans["pro"])
            subscription_change_commitment(actor=world.manager, subscription=subscription, commitment=Decimal("50"))

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    changes([world.customer_a1])
    before = queries()
    changes([world.customer_a2, world.customer_b1])
    after = queries()
    assert (before, after) == (5, 5)  # session, user, membership, count, the page of changes
    export = b"".join(client.get(reverse("subscription_change_list"), {"export": "csv"}).streaming_content).decode()
    assert export.count("commitment the plan's minimum → 50") == 3  # one a subscription, in the CSV too
    assert "Manager" in export  # who asked


def test_partner_systems_hear_of_a_change_once_it_counts(world, client, a1):
    endpoint = webhook_endpoint_create(
        actor=world.admin_a, url="https://hooks.alpha.example/prm", event_types=["subscription.changed"]
    )
    webhook_endpoint_create(actor=world.admin_b, url="https://hooks.beta.example/prm", event_types=["*"])
    _rules(world, approval="reductions")

    _post(client, world.customer_user_a1, _api(a1, "change-commitment"), {"commitment": "300"})
    assert not WebhookDelivery.objects.exists()  # pending: nothing changed yet
    pending = SubscriptionChange.objects.get()
    approved = _post(client, world.manager, f"/api/v1/subscription-changes/{pending.pk}/approve/", {})
    assert approved.status_code == 200

    [delivery] = WebhookDelivery.objects.all()  # partner A's endpoint; B's hears nothing of A's customers
    assert (delivery.endpoint, delivery.event_type) == (endpoint, "subscription.changed")
    data = json.loads(delivery.body)["data"]
    assert {key: data[key] for key in ("change", "subscription", "customer", "kind", "from", "to", "approval")} == {
        "change": pending.pk, "subscription": "sub_a1", "customer": "cus_a1", "kind": "commitment",
        "from": "500", "to": "300", "approval": "approved",
    }  # fmt: skip
    assert data["effective_at"] == DECEMBER.start.isoformat()
