"""Resources the portal manages that the API had not exposed: MDF budgets and the contract rules."""

import pytest

from prm.accounts.services import api_key_create
from prm.incentives.models import MdfBudget
from prm.plans.models import Metric, Plan
from prm.usage.ingest import events_ingest
from prm.usage.models import QuarantinedEvent, UsageEvent
from prm.usage.parsing import cloudevent
from tests import factories


def _client_as(client, user):
    _key, secret = api_key_create(user=user, name="test")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


@pytest.fixture
def mdf_tier(world):
    tier = factories.TierFactory(code="gold", name="Gold", rank=3)
    tier.mdf_eligible = True
    tier.save()
    return tier


@pytest.mark.django_db
def test_managers_set_mdf_budgets_through_the_api(world, client, mdf_tier):
    api = _client_as(client, world.manager)
    created = api.post(
        "/api/v1/mdf-budgets/",
        {"tier": "gold", "period": "2026-Q4", "amount": "10000.50", "note": "Q4 events"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tier"] == "gold" and body["period"] == "2026-Q4"
    assert body["amount"] == "10000.50" and body["currency"] == "USD" and body["committed"] == "0.00"
    budget = MdfBudget.objects.get(pk=body["id"])
    assert str(budget.amount) == "10000.500"  # stored with the money field's three places
    changed = api.patch(f"/api/v1/mdf-budgets/{budget.pk}/", {"amount": "12000"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["amount"] == "12000.00"
    # The same filters as the budgets page.
    assert api.get("/api/v1/mdf-budgets/", {"period": "2026-Q4"}).json()["count"] == 1
    assert api.get("/api/v1/mdf-budgets/", {"period": "2027-Q1"}).json()["count"] == 0
    # Errors name the field.
    too_precise = api.patch(f"/api/v1/mdf-budgets/{budget.pk}/", {"amount": "1.001"}, content_type="application/json")
    assert too_precise.status_code == 400
    assert too_precise.json() == {"amount": ["The amount has more decimals than USD has."]}
    not_eligible = api.post(
        "/api/v1/mdf-budgets/",
        {"tier": "registered", "period": "2026-Q4", "amount": "1"},
        content_type="application/json",
    )
    assert not_eligible.status_code == 400 and list(not_eligible.json()) == ["tier"]


@pytest.mark.django_db
def test_mdf_budgets_are_the_vendors(world, client, mdf_tier):
    budget = MdfBudget.objects.create(tier=mdf_tier, period="2026-Q4", amount=1000, currency="USD")
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        api = _client_as(client, user)
        assert api.get("/api/v1/mdf-budgets/").json()["count"] == 0, user.email
        assert api.get(f"/api/v1/mdf-budgets/{budget.pk}/").status_code == 404, user.email
        created = api.post(
            "/api/v1/mdf-budgets/",
            {"tier": "gold", "period": "2027-Q1", "amount": "5"},
            content_type="application/json",
        )
        assert created.status_code == 403, user.email
    assert MdfBudget.objects.count() == 1


@pytest.mark.django_db
def test_contract_rules_are_read_by_all_and_set_by_managers(world, client):
    Plan.objects.create(code="starter", name="Starter", currency="USD")
    api = _client_as(client, world.customer_user_a1)
    rules = api.get("/api/v1/contract-policy").json()
    assert rules["approval"] == "none" and rules["customer_self_service"] is True
    refused = api.put("/api/v1/contract-policy", {**rules, "approval": "all"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only channel managers set the program's contract rules."}
    api = _client_as(client, world.manager)
    changed = api.patch(
        "/api/v1/contract-policy",
        {"approval": "reductions", "commitment_step": "50", "lowering_notice_days": 30},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["approval"] == "reductions"
    assert changed.json()["commitment_step"] == "50.000"
    assert changed.json()["updated_by"] == "manager@test.example"
    invalid = api.patch("/api/v1/contract-policy", {"plan_choice": "chosen"}, content_type="application/json")
    assert invalid.status_code == 400
    assert invalid.json() == {"self_service_plans": ["Choose at least one plan, or let customers pick any plan."]}
    chosen = api.patch(
        "/api/v1/contract-policy",
        {"plan_choice": "chosen", "self_service_plans": ["starter"]},
        content_type="application/json",
    )
    assert chosen.status_code == 200 and chosen.json()["self_service_plans"] == ["starter"]
    too_long = api.patch("/api/v1/contract-policy", {"lowering_notice_days": 400}, content_type="application/json")
    assert too_long.status_code == 400 and list(too_long.json()) == ["lowering_notice_days"]


@pytest.mark.django_db
def test_invitations_through_the_api(world, client, mailoutbox, django_capture_on_commit_callbacks):
    api = _client_as(client, world.admin_a)
    with django_capture_on_commit_callbacks(execute=True):  # the email goes once the invitation is committed
        created = api.post(
            "/api/v1/invitations/",
            {"email": "New.Rep@Alpha.example", "role": "partner_rep", "partner": world.partner_a.pk},
            content_type="application/json",
        )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["email"] == "new.rep@alpha.example" and body["status"] == "pending"
    assert body["invited_by"] == "admin-a@test.example" and "token" not in str(body)
    assert [message.to for message in mailoutbox] == [["new.rep@alpha.example"]]
    # Into another partner: that partner reads as not existing, naming the field.
    foreign = api.post(
        "/api/v1/invitations/",
        {"email": "x@beta.example", "role": "partner_rep", "partner": world.partner_b.pk},
        content_type="application/json",
    )
    assert foreign.status_code == 400 and list(foreign.json()) == ["partner"]
    # A role above the inviter's: 403.
    manager = api.post(
        "/api/v1/invitations/", {"email": "x@y.example", "role": "manager"}, content_type="application/json"
    )
    assert manager.status_code == 403
    revoked = api.post(f"/api/v1/invitations/{body['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    # A customer admin sees none of the partner's invitations; a rep may not invite.
    assert _client_as(client, world.customer_user_a1).get("/api/v1/invitations/").json()["count"] == 0
    rep = _client_as(client, world.rep_a)
    refused = rep.post(
        "/api/v1/invitations/", {"email": "z@y.example", "role": "partner_rep"}, content_type="application/json"
    )
    assert refused.status_code == 403


def _hold(world, event_id, subject, metric="calls"):
    event = {"specversion": "1.0", "id": event_id, "source": "test", "type": metric, "subject": subject,
             "time": "2026-11-02T10:00:00Z", "data": {"calls": 2}}  # fmt: skip
    events_ingest([cloudevent(0, event)], actor=world.manager)


@pytest.mark.django_db
def test_managers_reprocess_the_quarantine_matching_filters(world, client):
    Metric.objects.create(code="calls", name="Calls", unit="call", aggregation="sum", field="calls")
    _hold(world, "q-1", "cus_later")
    _hold(world, "q-2", "cus_later")
    _hold(world, "q-3", "cus_a1", metric="gpu_hours")  # another reason: left alone by the filter
    assert QuarantinedEvent.objects.filter(status="pending").count() == 3
    refused = _client_as(client, world.admin_a).post("/api/v1/quarantine/reprocess-all/")
    assert refused.status_code == 403
    assert QuarantinedEvent.objects.filter(status="pending").count() == 3
    factories.CustomerFactory(reseller=world.partner_a, name="Later Corp", external_id="cus_later")
    api = _client_as(client, world.manager)
    response = api.post("/api/v1/quarantine/reprocess-all/?reason=unknown_customer")
    assert response.status_code == 200
    assert response.json() == {"outcomes": {"accepted": 2}}
    assert UsageEvent.objects.filter(event_id__in=["q-1", "q-2"], customer__external_id="cus_later").count() == 2
    assert list(QuarantinedEvent.objects.filter(status="pending").values_list("event_id", flat=True)) == ["q-3"]
