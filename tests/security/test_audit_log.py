"""The audit log: every configuration change and approval, who, when, before and after; managers only."""

import csv
import io

import pytest
from django.urls import reverse

from prm.accounts.services import api_key_create, invitation_create
from prm.core.audit import SECRET_MARK, acting_as
from prm.core.models import AuditEntry, ClosedBillingPeriod
from prm.customers.services import contract_policy_update
from prm.incentives.models import Statement
from prm.notifications.webhooks import webhook_endpoint_create, webhook_endpoint_rotate_secret
from prm.partners.models import Partner
from prm.partners.services import partner_update, tier_update
from prm.plans.services import plan_create, plan_update


def _entries(object_type):
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("id"))


@pytest.mark.django_db
def test_a_configuration_change_records_who_what_before_and_after(world):
    plan = plan_create(
        actor=world.manager, code="gold", name="Gold", currency="USD", charges=[{"model": "flat", "amount": "10"}]
    )
    [created] = _entries("plans.Plan")
    assert (created.action, created.object_id, created.object_repr) == ("create", str(plan.pk), str(plan))
    assert created.after["name"] == "Gold" and created.before == {}
    # Outside a request (a command, a task) `acting_as` names the actor; only the changed field is kept.
    with acting_as(world.manager):
        plan_update(actor=world.manager, plan=plan, name="Gold 2026")
    update = _entries("plans.Plan")[-1]
    assert update.action == "update"
    assert update.actor == world.manager
    assert update.before == {"name": "Gold"} and update.after == {"name": "Gold 2026"}
    assert update.at is not None and update.at.tzinfo is not None


@pytest.mark.django_db
def test_nothing_changed_records_nothing_and_a_rollback_leaves_no_entry(world):
    tier = world.partner_a.tier
    before = AuditEntry.objects.count()
    tier_update(actor=world.manager, tier=tier, name=tier.name)
    assert AuditEntry.objects.count() == before
    with pytest.raises(Exception):  # noqa: B017  any failure inside the transaction
        from django.db import transaction

        with transaction.atomic():
            tier_update(actor=world.manager, tier=tier, name="Renamed")
            raise RuntimeError("rolled back")
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_secrets_are_never_written_to_the_log(world):
    endpoint = webhook_endpoint_create(
        actor=world.admin_a, url="https://hooks.alpha.example/prm", event_types=["*"], description="A's hook"
    )
    old_secret = endpoint.secret
    webhook_endpoint_rotate_secret(actor=world.admin_a, endpoint=endpoint)
    created, rotated = _entries("notifications.WebhookEndpoint")
    assert created.partner_id == world.partner_a.pk and created.after["secret"] == SECRET_MARK
    assert rotated.before["secret"] == rotated.after["secret"] == SECRET_MARK
    key, secret = api_key_create(user=world.admin_a, name="CI")
    invitation, token = invitation_create(
        invited_by=world.admin_a, email="new-a@test.example", role="partner_rep", partner=world.partner_a
    )
    dump = str(list(AuditEntry.objects.values_list("before", "after")))
    for value in (old_secret, endpoint.secret, secret, key.key_hash, token, invitation.token_hash):
        assert value not in dump
    [key_entry] = _entries("accounts.ApiKey")
    assert key_entry.after["key_hash"] == SECRET_MARK and key_entry.after["name"] == "CI"
    assert key_entry.partner_id == world.partner_a.pk
    assert _entries("accounts.Invitation")[0].after["email"] == "new-a@test.example"


@pytest.mark.django_db
def test_partner_stage_and_tier_changes_and_contract_policy_are_recorded(world):
    from tests.factories import TierFactory

    gold = TierFactory(code="gold", name="Gold", rank=5)
    with acting_as(world.manager):
        partner_update(actor=world.manager, partner=world.partner_b, tier=gold, reason="test")
    entry = _entries("partners.Partner")[-1]
    assert entry.before["tier_id"] == world.partner_a.tier_id and entry.after["tier_id"] == gold.pk
    assert entry.partner_id == world.partner_b.pk and entry.actor == world.manager
    contract_policy_update(actor=world.manager, commitment_step="50")
    policy = _entries("customers.ContractPolicy")[-1]
    assert policy.after["commitment_step"] == "50" and policy.actor == world.manager  # the row's updated_by


@pytest.mark.django_db
def test_approvals_are_recorded_with_the_decider_from_the_page_and_the_api_key(world, login, client):
    draft = Statement.objects.create(
        partner=world.partner_b, period="2026-10", currency="USD", entries_total=5, total=5
    )
    login(world.manager)
    assert client.post(reverse("statement_approve", args=[draft.pk])).status_code == 302
    [approved] = _entries("incentives.Statement")
    assert approved.action == "approved" and approved.actor == world.manager
    assert approved.before["status"] == "draft" and approved.after["status"] == "approved"
    assert approved.partner_id == world.partner_b.pk
    # The same through the API with a manager's key: the key's user is the actor.
    client.logout()
    other = Statement.objects.create(
        partner=world.partner_a, period="2026-10", currency="USD", entries_total=1, total=1
    )
    _key, secret = api_key_create(user=world.manager, name="ops")
    response = client.post(f"/api/v1/statements/{other.pk}/approve/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200, response.content
    last = _entries("incentives.Statement")[-1]
    assert (last.object_id, last.actor, last.action) == (str(other.pk), world.manager, "approved")


@pytest.mark.django_db
def test_a_period_close_is_recorded(world):
    ClosedBillingPeriod.objects.get_or_create(period="2026-09", defaults={"closed_by": world.manager})
    [entry] = _entries("core.ClosedBillingPeriod")
    assert entry.action == "create" and entry.after["period"] == "2026-09" and entry.actor == world.manager


@pytest.mark.django_db
def test_only_managers_read_the_log_on_the_page_and_through_the_api(world, login, client):
    with acting_as(world.manager):
        plan_create(
            actor=world.manager,
            code="silver",
            name="Silver",
            currency="USD",
            charges=[{"model": "flat", "amount": "10"}],
        )
        partner_update(actor=world.manager, partner=world.partner_b, name="Beta Partners Ltd", reason="rename")
    for user in (world.admin_a, world.admin_b, world.rep_a, world.customer_user_a1, world.customer_viewer_a1):
        login(user)
        assert client.get(reverse("audit_log")).status_code == 403, user.email
        assert client.get("/api/v1/audit-log/").status_code == 403, user.email
        entry = AuditEntry.objects.first()
        assert client.get(f"/api/v1/audit-log/{entry.pk}/").status_code == 403, user.email
    client.logout()
    assert client.get("/api/v1/audit-log/").status_code == 401
    login(world.manager)
    page = client.get(reverse("audit_log"), {"object_type": "partners.Partner"})
    body = page.content.decode()
    assert page.status_code == 200 and "Beta Partners Ltd" in body and "Silver" not in body
    assert "Audit log" in client.get(reverse("home")).content.decode()  # linked from the navigation
    export = b"".join(client.get(reverse("audit_log"), {"export": "csv", "actor": world.manager.pk}).streaming_content)
    rows = list(csv.DictReader(io.StringIO(export.decode())))
    assert {row["Object type"] for row in rows} >= {"plans.Plan", "partners.Partner"}
    renamed = next(row for row in rows if row["Object type"] == "partners.Partner")
    assert "name: Beta Partners -> Beta Partners Ltd" in renamed["Before → after"]
    query = {"object_type": "partners.Partner", "partner": world.partner_b.pk}
    assert client.get("/api/v1/audit-log/", query).json()["count"] == 2  # B's creation (the fixture) and rename
    api = client.get("/api/v1/audit-log/", {**query, "action": "update"}).json()
    assert api["count"] == 1
    [row] = api["results"]
    assert row["before"] == {"name": "Beta Partners"} and row["after"] == {"name": "Beta Partners Ltd"}
    assert row["actor"] == world.manager.email and row["action"] == "update"
    assert client.get("/api/v1/audit-log/", {"date_from": "2999-01-01"}).json()["count"] == 0
    bad = client.get("/api/v1/audit-log/", {"date_from": "yesterday"})
    assert bad.status_code == 400 and "date_from" in bad.json()
    assert Partner.objects.get(pk=world.partner_b.pk).name == "Beta Partners Ltd"
