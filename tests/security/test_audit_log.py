"""The audit log: every configuration change and approval, who, when, before and after; managers only."""

import csv
import io

import pytest
from celery import current_app
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from prm.accounts.models import Invitation, User
from prm.accounts.services import api_key_create, api_key_revoke, invitation_create
from prm.core.audit import SECRET_MARK, acting_as, audit_created, audit_origin, audit_update
from prm.core.models import AuditEntry, ClosedBillingPeriod
from prm.customers.services import contract_policy_update, subscription_create
from prm.incentives.models import Statement
from prm.notifications.webhooks import webhook_endpoint_create, webhook_endpoint_rotate_secret
from prm.operations.tasks import alerts_evaluate_task, period_close_task
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


# --- Writes that bypass save(), and work done outside a request -----------------------------------


def _dump() -> str:
    return str(list(AuditEntry.objects.values_list("before", "after", "object_repr")))


@pytest.mark.django_db
def test_revoking_an_api_key_records_who_revoked_it_and_never_the_key(world, login):
    key, secret = api_key_create(user=world.admin_a, name="CI")
    # A manager revoking someone else's key outside a request: the service names its actor.
    api_key_revoke(actor=world.manager, api_key=key)
    created, revoked = _entries("accounts.ApiKey")
    assert (revoked.action, revoked.object_id, revoked.actor, revoked.origin) == (
        "update",
        str(key.pk),
        world.manager,
        "",
    )
    key.refresh_from_db()
    assert revoked.before == {"revoked_at": None}
    assert list(revoked.after) == ["revoked_at"]
    assert revoked.after["revoked_at"].startswith(key.revoked_at.strftime("%Y-%m-%dT%H:%M:%S."))
    assert revoked.partner_id == world.partner_a.pk
    api_key_revoke(actor=world.manager, api_key=key)  # already revoked: nothing changes, nothing recorded
    assert len(_entries("accounts.ApiKey")) == 2
    # Through the portal, by the key's owner: the request's user, from the page.
    own, own_secret = api_key_create(user=world.admin_a, name="laptop")
    assert login(world.admin_a).post(reverse("api_key_revoke", args=[own.pk])).status_code == 302
    page = _entries("accounts.ApiKey")[-1]
    assert (page.object_id, page.actor, page.origin, list(page.after)) == (
        str(own.pk),
        world.admin_a,
        "web",
        ["revoked_at"],
    )
    assert created.after["key_hash"] == SECRET_MARK
    for value in (secret, key.key_hash, own_secret, own.key_hash):
        assert value not in _dump()


@pytest.mark.django_db
def test_re_inviting_records_the_withdrawal_by_the_new_inviter_with_the_token_masked(world, login):
    first, first_token = invitation_create(
        invited_by=world.admin_a, email="again@test.example", role="partner_rep", partner=world.partner_a
    )
    # The manager invites the same address again through the API: the earlier invitation is withdrawn.
    login(world.manager)
    response = login(world.manager).post(
        "/api/v1/invitations/",
        {"email": "again@test.example", "role": "partner_admin", "partner": world.partner_a.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    second = Invitation.objects.get(pk=response.json()["id"])
    withdrawn = [entry for entry in _entries("accounts.Invitation") if entry.object_id == str(first.pk)][-1]
    first.refresh_from_db()
    assert first.revoked_at is not None
    # Not the first invitation's sender: the person whose invitation replaced it, from the API.
    assert (withdrawn.action, withdrawn.actor, withdrawn.origin) == ("update", world.manager, "api")
    assert withdrawn.before == {"revoked_at": None} and list(withdrawn.after) == ["revoked_at"]
    assert withdrawn.partner_id == world.partner_a.pk
    [made] = [entry for entry in _entries("accounts.Invitation") if entry.object_id == str(second.pk)]
    assert made.action == "create" and made.after["token_hash"] == SECRET_MARK
    # The same service outside a request names its inviter too, not the earlier invitation's sender.
    third, third_token = invitation_create(
        invited_by=world.admin_a, email="again@test.example", role="partner_rep", partner=world.partner_a
    )
    last_withdrawal = [entry for entry in _entries("accounts.Invitation") if entry.object_id == str(second.pk)][-1]
    assert (last_withdrawal.action, last_withdrawal.actor, last_withdrawal.origin) == ("update", world.admin_a, "")
    for value in (first_token, first.token_hash, second.token_hash, third_token, third.token_hash):
        assert value not in _dump()


@pytest.mark.django_db
def test_accepting_an_invitation_is_recorded_as_the_new_persons_doing(world, client):
    invitation, token = invitation_create(
        invited_by=world.admin_a, email="joiner@test.example", role="partner_rep", partner=world.partner_a
    )
    password = "a-long-Passw0rd-for-tests"
    response = client.post(
        reverse("invitation_accept", args=[token]),
        {"full_name": "Jo Iner", "password1": password, "password2": password},
    )
    assert response.status_code == 302
    user = User.objects.get(email="joiner@test.example")
    [accepted] = _entries("accounts.Invitation")[1:]
    assert (accepted.action, accepted.actor, accepted.origin) == ("update", user, "web")
    assert accepted.before == {"accepted_at": None, "accepted_user_id": None}
    assert accepted.after["accepted_user_id"] == user.pk and accepted.after["accepted_at"]
    [made_user] = _entries("accounts.User")[-1:]
    assert (made_user.action, made_user.actor, made_user.object_id) == ("create", user, str(user.pk))
    assert made_user.after["password"] == SECRET_MARK
    membership = _entries("accounts.Membership")[-1]
    assert (membership.action, membership.actor, membership.partner_id) == ("create", user, world.partner_a.pk)
    for value in (token, invitation.token_hash, password, user.password):
        assert value not in _dump()


@pytest.mark.django_db
def test_a_command_names_itself_and_the_person_its_flag_names(world):
    call_command("close_period", "2026-08", stdout=io.StringIO())
    [system] = _entries("core.ClosedBillingPeriod")
    assert (system.actor, system.origin, system.after["period"]) == (None, "command close_period", "2026-08")

    call_command("close_period", "2026-09", "--as", "Manager@Test.example", stdout=io.StringIO())
    person = _entries("core.ClosedBillingPeriod")[-1]
    assert (person.actor, person.origin, person.after["period"]) == (world.manager, "command close_period", "2026-09")
    assert ClosedBillingPeriod.objects.get(period="2026-09").closed_by == world.manager
    with pytest.raises(CommandError, match="--as: no active user"):
        call_command("close_period", "2026-07", "--as", "nobody@test.example", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--as: Only channel managers"):
        call_command("close_period", "2026-07", "--as", world.admin_a.email, stdout=io.StringIO())
    assert not ClosedBillingPeriod.objects.filter(period="2026-07").exists()

    out = io.StringIO()
    call_command("create_api_key", "--user", world.admin_a.email, "--name", "deploy", stdout=out, stderr=io.StringIO())
    key = _entries("accounts.ApiKey")[-1]
    assert (key.action, key.actor, key.origin, key.after["name"]) == (
        "create",
        None,
        "command create_api_key",
        "deploy",
    )
    assert key.after["key_hash"] == SECRET_MARK and out.getvalue().strip() not in _dump()


@pytest.mark.django_db
def test_a_task_names_itself_and_a_scheduled_run_says_so(world):
    period_close_task.delay("2026-08")  # eager here: the same task a worker runs
    [closed] = _entries("core.ClosedBillingPeriod")
    assert (closed.actor, closed.origin) == (None, "task period_close_task")

    plan = plan_create(
        actor=world.manager, code="committed", name="Committed", currency="USD",
        charges=[{"model": "flat", "amount": "10"}], minimum_commitment="100",
    )  # fmt: skip
    subscription = subscription_create(
        actor=world.manager, plan=plan, customer=world.customer_b1, external_id="sub_b1_committed",
        started_at=timezone.now(),
    )  # fmt: skip
    # As beat sends it: the schedule entry's own options.
    entry = settings.CELERY_BEAT_SCHEDULE["alerts-evaluate"]
    current_app.tasks[entry["task"]].apply_async(**entry["options"])
    made = _entries("usage.AlertRule")
    assert [(e.action, e.actor, e.origin, e.partner_id) for e in made] == [
        ("create", None, "schedule alerts_evaluate_task", world.partner_b.pk)
    ] * 2
    assert {e.after["default_key"] for e in made} == {"commitment-80", "commitment-100"}
    assert {e.after["subscription_id"] for e in made} == {subscription.pk}
    assert made[0].object_repr.startswith("Spend ≥ ") and "sub_b1_committed" in made[0].object_repr
    alerts_evaluate_task.delay()  # nothing new to make, nothing recorded twice
    assert len(_entries("usage.AlertRule")) == 2
    # Every beat entry marks its runs as scheduled.
    assert all(
        e.get("options", {}).get("headers") == {"prm_origin": "schedule"}
        for e in settings.CELERY_BEAT_SCHEDULE.values()
    )


@pytest.mark.django_db
def test_set_based_updates_and_creations_are_recorded_in_bulk(world, django_assert_max_num_queries):
    from tests.factories import PartnerFactory

    others = [PartnerFactory(name=f"Bulk {n}", country="DE", tier=world.partner_a.tier) for n in range(3)]
    already_fr = PartnerFactory(name="Bulk FR", country="FR", tier=world.partner_a.tier)
    before = AuditEntry.objects.count()
    # Savepoint, lock and read, update, read again, insert the entries, release: not a query per row.
    with audit_origin("command test"), django_assert_max_num_queries(6):
        updated = audit_update(Partner.objects.filter(name__startswith="Bulk"), country="FR")
    assert updated == 4  # like update(): every row it matched…
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 3  # …but only the rows that changed are recorded
    assert {(e.object_id, e.partner_id) for e in entries} == {(str(p.pk), p.pk) for p in others}
    assert all(
        (e.action, e.origin, e.before, e.after) == ("update", "command test", {"country": "DE"}, {"country": "FR"})
        for e in entries
    )
    assert str(already_fr.pk) not in {e.object_id for e in entries}
    # A conditional update keeps its condition: nothing matches any more, nothing is written.
    assert audit_update(Partner.objects.filter(name__startswith="Bulk", country="DE"), country="IT") == 0
    # Rows made with bulk_create: one create entry each, with their partner; once only when asked.
    rows = Partner.objects.bulk_create(
        [Partner(name=f"Made {n}", website_domain=f"made{n}.example.com", tier=world.partner_a.tier) for n in range(2)]
    )
    assert audit_created(rows) == 2
    assert audit_created(Partner.objects.filter(name__startswith="Made"), unless_recorded=True) == 0
    made = _entries("partners.Partner")[-2:]
    assert [(e.action, e.partner_id, e.after["name"]) for e in made] == [
        ("create", rows[0].pk, "Made 0"), ("create", rows[1].pk, "Made 1")
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_queryset_delete_is_recorded_row_by_row(world):
    from prm.partners.models import TargetMarket

    TargetMarket.objects.create(industry="software", region="EMEA", goal_partners=2, goal_consumption=10)
    TargetMarket.objects.create(industry="health", region="EMEA", goal_partners=1, goal_consumption=5)
    TargetMarket.objects.filter(region="EMEA").delete()
    assert sorted(e.action for e in _entries("partners.TargetMarket")) == ["create", "create", "delete", "delete"]


@pytest.mark.django_db
def test_the_page_and_the_api_show_and_filter_the_origin(world, login, client):
    call_command("close_period", "2026-08", stdout=io.StringIO())
    with acting_as(world.manager):
        tier_update(actor=world.manager, tier=world.partner_a.tier, name="Registered 2")
    login(world.manager)
    api = client.get("/api/v1/audit-log/", {"origin": "command"}).json()
    assert [(row["object_type"], row["origin"], row["actor"]) for row in api["results"]] == [
        ("core.ClosedBillingPeriod", "command close_period", None)
    ]
    page = client.get(reverse("audit_log"), {"origin": "command"}).content.decode()
    assert "Origin" in page and "command close_period" in page and "Registered 2" not in page
    export = b"".join(client.get(reverse("audit_log"), {"export": "csv"}).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(export)))
    assert {(row["Object type"], row["Origin"], row["Who"]) for row in rows} >= {
        ("core.ClosedBillingPeriod", "command close_period", ""),
        ("partners.Tier", "", world.manager.email),  # acting_as outside a request: no origin to name
    }


@pytest.mark.django_db
def test_the_demos_partner_placement_is_recorded(world):
    from prm.operations.demo_lifecycle import seed_target_markets

    config = {"website_domain": world.partner_a.website_domain, "industry": "software", "region": "emea_north"}
    with audit_origin("command seed_demo"):
        seed_target_markets(actor=world.manager, partner_configs=[config])
        seed_target_markets(actor=world.manager, partner_configs=[config])  # placed already: nothing changes
    [placed] = [entry for entry in _entries("partners.Partner") if entry.action == "update"]
    assert (placed.object_id, placed.origin) == (str(world.partner_a.pk), "command seed_demo")
    assert placed.after == {"industry": "software", "region": "emea_north"}
