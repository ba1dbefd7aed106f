"""Deal registration: normalization, conflict detection, decisions, scope, proposals and bad input."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from prm.deals import services
from prm.deals.models import DealRegistration, DealStatus
from prm.deals.names import normalize_company_name
from prm.notifications.models import Notification
from prm.plans.services import plan_update
from tests.deals.conftest import close_date


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


# --- normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme, Inc.", "acme"),
        ("acme inc", "acme"),
        ("ACME LLC", "acme"),
        ("A.C.M.E. S.A.", "acme"),
        ("The Acme Company", "acme"),
        ("Acme Co. Ltd", "acme"),
        ("Acme Robotics GmbH", "acme robotics"),
        ("Lumière Numérique SAS", "lumiere numerique"),
        ("Evergreen Farms Co-op", "evergreen farms co op"),  # "co" only goes at the end
        ("Inc", "inc"),  # nothing but a legal form: kept, an empty key would match everything
    ],
)
def test_company_names_are_normalized(name, key):
    assert normalize_company_name(name) == key


def test_acme_variants_are_one_company():
    assert (
        normalize_company_name("Acme, Inc.") == normalize_company_name("acme inc") == normalize_company_name("ACME LLC")
    )
    assert normalize_company_name("Acme Robotics") != normalize_company_name("Acme")


# --- register: the answer states the proposal and the conflicts ---------------------------------


@pytest.mark.django_db
def test_a_partner_registers_a_deal_with_its_proposal(world, register, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(world.rep_a)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["partner"], body["registered_by"]) == (
        "submitted",
        world.partner_a.pk,
        "rep-a@test.example",
    )
    assert (body["domain"], body["company_key"], body["currency"]) == ("zeta-robotics.example", "zeta robotics", "USD")
    assert body["conflicts"] == [] and body["has_conflicts"] is False
    assert body["expected_usage"] == {"api_calls": "12345"}
    # Worked example, 12,345 calls on the graduated plan with a 49 fee and a 100 minimum:
    #   fee                                    49.00
    #   tier 1: 1,000 × 0                    =  0
    #   tier 2: 9,000 × 0.002 = 18 + 5 flat  = 23
    #   tier 3: 2,345 × 0.0015               =  3.5175
    #   calls line 26.5175 → 26.52 (rounded once)
    #   subtotal 49.00 + 26.52 = 75.52; minimum 100 → true-up 24.48; total 100.00
    proposal = body["proposal"]
    assert [(line["model"], line["quantity"], line["amount"]) for line in proposal["lines"]] == [
        ("flat", "1", "49.00"),
        ("graduated", "12345", "26.52"),
        ("minimum_commitment", "1", "24.48"),
    ]
    assert [tier["amount"] for tier in proposal["lines"][1]["tiers"]] == ["0", "23", "3.5175"]
    assert (proposal["subtotal"], proposal["total"], proposal["currency"]) == ("75.52", "100.00", "USD")
    assert (proposal["plan"], proposal["plan_version"]) == ("api-grad", 1)
    # The channel managers are told, in the portal and by email.
    note = Notification.objects.get(recipient=world.manager)
    assert note.kind == "deal.submitted" and "Zeta Robotics GmbH" in note.title
    assert note.url == f"/deals/{body['id']}/"
    assert [message.to for message in mail.outbox] == [["manager@test.example"]]


@pytest.mark.django_db
def test_proposal_is_priced_again_at_the_current_prices(world, register, plan, client):
    deal_id = register(world.admin_a, expected_usage={"api_calls": "20000"}).json()["id"]
    # 20,000 calls: 0 + (9,000 × 0.002 + 5) + 10,000 × 0.0015 = 23 + 15 = 38.00; + 49 = 87.00 → minimum 100.00.
    assert DealRegistration.objects.get(pk=deal_id).proposal["total"] == "100.00"
    charges = [{"model": "flat", "amount": "149"}, plan.current_version.charges[1]]
    plan_update(actor=world.manager, plan=plan, charges=charges, minimum_commitment=None)
    response = login(client, world.admin_a).post(f"/api/v1/deals/{deal_id}/proposal/")
    assert response.status_code == 200, response.json()
    proposal = response.json()["proposal"]
    # The new prices: 149.00 + 38.00 = 187.00, no minimum.
    assert (proposal["subtotal"], proposal["total"]) == ("187.00", "187.00")
    assert proposal["plan_version"] == plan.current_version.version
    # A rep of another partner cannot reach it; a customer neither.
    assert login(client, world.admin_b).post(f"/api/v1/deals/{deal_id}/proposal/").status_code == 404


# --- conflicts --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deal_for_an_existing_customer_is_refused_on_domain(world, register):
    # Another partner's customer: refused, without naming that partner or its customer.
    response = register(world.admin_a, company="Whatever Ltd", domain=f"https://www.{world.customer_b1.domain}/about")
    assert response.status_code == 400
    message = " ".join(response.json()["domain"])
    assert "existing customer of another partner" in message
    assert "Beta" not in message and "B1 Corp" not in message
    # The partner's own customer: it is told which one.
    response = register(world.admin_a, company="Whatever Ltd", domain=world.customer_a2.domain)
    assert response.status_code == 400
    assert "your customer A2 Corp (cus_a2)" in response.json()["domain"][0]
    assert not DealRegistration.objects.exists()


@pytest.mark.django_db
def test_another_partners_open_registration_is_a_stated_conflict(world, register, client):
    theirs = register(world.admin_b, company="Zeta Robotics GmbH", domain="zeta.example").json()
    response = register(world.rep_a, company="ZETA ROBOTICS, INC.", domain="zeta-robotics.example")
    assert response.status_code == 201
    ours = response.json()
    assert ours["has_conflicts"] is True
    [conflict] = ours["conflicts"]
    assert (conflict["kind"], conflict["match"]) == ("deal", "name")
    assert "Another partner's registration" in conflict["text"] and "submitted" in conflict["text"]
    # A partner reads what collides, never who: no other partner's name, no id of its registration.
    assert set(conflict) == {"kind", "match", "text", "lapsed"} and "Beta" not in str(ours)
    # The other registration now states it too; the manager reads who is behind each.
    login(client, world.manager)
    [theirs_conflict] = client.get(f"/api/v1/deals/{theirs['id']}/").json()["conflicts"]
    assert theirs_conflict["deal"] == ours["id"] and "Alpha Partners registered" in theirs_conflict["text"]
    listing = client.get("/api/v1/deals/", {"has_conflicts": "true"}).json()
    assert {row["id"] for row in listing["results"]} == {theirs["id"], ours["id"]}
    # Rejecting one clears the other's conflict.
    assert client.post(f"/api/v1/deals/{ours['id']}/reject/", {"reason": "B was first"},
                       content_type="application/json").status_code == 200  # fmt: skip
    assert client.get(f"/api/v1/deals/{theirs['id']}/").json()["conflicts"] == []


@pytest.mark.django_db
def test_a_customer_of_the_same_name_is_a_conflict_not_a_refusal(world, register):
    world.customer_b1.name = "Zeta Robotics Ltd"
    world.customer_b1.save()
    response = register(world.admin_a, company="Zeta Robotics GmbH", domain="zeta-robotics.example")
    assert response.status_code == 201
    [conflict] = response.json()["conflicts"]
    assert (conflict["kind"], conflict["match"]) == ("customer", "name")
    assert conflict["text"] == "An existing customer of another partner has the company name."


@pytest.mark.django_db
def test_a_protected_approved_registration_blocks_approving_a_rival(world, register, client):
    theirs = register(world.admin_b, domain="zeta-robotics.example").json()
    ours = register(world.admin_a, company="Zeta Robotics AG", domain="zeta-robotics.example").json()
    assert ours["conflicts"][0]["match"] == "domain"
    login(client, world.manager)
    approved = client.post(f"/api/v1/deals/{theirs['id']}/approve/", {"reason": "First in"},
                           content_type="application/json")  # fmt: skip
    assert approved.status_code == 200, approved.json()
    deal = DealRegistration.objects.get(pk=theirs["id"])
    assert deal.protected_until == deal.decided_at + timedelta(days=90)
    refused = client.post(f"/api/v1/deals/{ours['id']}/approve/", {}, content_type="application/json")
    assert refused.status_code == 400
    assert "Beta Partners's registration" in refused.json()["conflicts"][0]
    assert DealRegistration.objects.get(pk=ours["id"]).status == DealStatus.SUBMITTED
    # A partner reads the protected conflict without the other partner's name.
    login(client, world.admin_a)
    text = client.get(f"/api/v1/deals/{ours['id']}/").json()["conflicts"][0]["text"]
    assert "approved, protected until" in text and "Beta" not in text
    # Once the protection has lapsed, the rival may be approved.
    later = deal.protected_until + timedelta(seconds=1)
    rival = services.deal_approve(actor=world.manager, deal=DealRegistration.objects.get(pk=ours["id"]), now=later)
    assert rival.status == DealStatus.APPROVED


@pytest.mark.django_db
def test_the_same_partner_registers_a_domain_once(world, register):
    assert register(world.rep_a).status_code == 201
    again = register(world.admin_a, company="Zeta Robotics")
    assert again.status_code == 400
    assert "Your partner already registered zeta-robotics.example" in again.json()["domain"][0]


@pytest.mark.django_db
def test_approval_is_refused_once_the_domain_became_a_customer(world, register, client):
    deal_id = register(world.admin_a).json()["id"]
    world.customer_b1.domain = "zeta-robotics.example"
    world.customer_b1.save()
    response = login(client, world.manager).post(
        f"/api/v1/deals/{deal_id}/approve/", {}, content_type="application/json"
    )
    assert response.status_code == 400 and "existing customer" in response.json()["domain"][0]


# --- decisions and who may make them ---------------------------------------------------------


@pytest.mark.django_db
def test_decisions_notify_the_rep_and_the_partner_admins(world, register, client, django_capture_on_commit_callbacks):
    deal_id = register(world.rep_a).json()["id"]
    login(client, world.rep_a)
    assert client.post(f"/api/v1/deals/{deal_id}/approve/", {}, content_type="application/json").status_code == 403
    mail.outbox.clear()
    login(client, world.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/deals/{deal_id}/reject/", {"reason": "A direct vendor deal."},
                               content_type="application/json")  # fmt: skip
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decision_reason"]) == ("rejected", "A direct vendor deal.")
    told = Notification.objects.filter(kind="deal.status_changed")
    assert sorted(note.recipient.email for note in told) == ["admin-a@test.example", "rep-a@test.example"]
    assert "A direct vendor deal." in told.first().body
    assert sorted(message.to[0] for message in mail.outbox) == ["admin-a@test.example", "rep-a@test.example"]
    # A decided registration is not decided again.
    again = client.post(f"/api/v1/deals/{deal_id}/approve/", {}, content_type="application/json")
    assert again.status_code == 400 and "Only a submitted registration" in again.json()["status"][0]
    # Rejecting needs a reason.
    other = register(world.admin_a, domain="other.example").json()["id"]
    login(client, world.manager)
    assert client.post(f"/api/v1/deals/{other}/reject/", {}, content_type="application/json").json() == {
        "reason": ["This field is required."]
    }


@pytest.mark.django_db
def test_lost_deals_stop_protecting(world, register, client):
    deal_id = register(world.rep_a).json()["id"]
    login(client, world.manager)
    client.post(f"/api/v1/deals/{deal_id}/approve/", {}, content_type="application/json")
    login(client, world.rep_a)
    response = client.post(f"/api/v1/deals/{deal_id}/lost/", {"reason": "Went with a competitor"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["lost_reason"], body["is_protected"]) == ("lost", "Went with a competitor", False)
    # Another partner's registration of the prospect no longer conflicts with it.
    assert register(world.admin_b).json()["conflicts"] == []


# --- scope ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_deals_are_scoped(world, register, client):
    by_rep = register(world.rep_a).json()["id"]
    by_admin = register(world.admin_a, domain="admin-deal.example").json()["id"]
    by_b = register(world.admin_b, domain="b-deal.example").json()["id"]
    other_rep = register(world.rep_b, domain="rep-b.example").json()["id"]

    def ids(user):
        return {row["id"] for row in login(client, user).get("/api/v1/deals/").json()["results"]}

    assert ids(world.admin_a) == {by_rep, by_admin}
    assert ids(world.rep_a) == {by_rep}
    assert ids(world.admin_b) == {by_b, other_rep}
    assert ids(world.customer_user_a1) == set()
    assert ids(world.manager) == {by_rep, by_admin, by_b, other_rep}
    login(client, world.admin_b)
    assert client.get(f"/api/v1/deals/{by_rep}/").status_code == 404
    login(client, world.rep_a)
    assert client.get(f"/api/v1/deals/{by_admin}/").status_code == 404
    # Customers and managers do not register deals.
    for user in (world.customer_user_a1, world.manager):
        login(client, user)
        assert client.post("/api/v1/deals/", {}, content_type="application/json").status_code == 403
    # Nothing is edited in place.
    login(client, world.admin_a)
    assert (
        client.patch(f"/api/v1/deals/{by_admin}/", {"company": "x"}, content_type="application/json").status_code == 405
    )


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"expected_usage": {"api_calls": 2.5}}, "expected_usage", "not a float"),
        ({"expected_usage": {"api_calls": "-3"}}, "expected_usage", "must not be negative"),
        ({"expected_usage": {"api_calls": "lots"}}, "expected_usage", "decimal number"),
        ({"expected_usage": {"nope": "3"}}, "expected_usage", "no metric has this code"),
        ({"expected_usage": {"seats": "3"}}, "expected_usage", "does not charge it"),
        ({"expected_usage": ["api_calls"]}, "expected_usage", "Must be an object"),
        ({"domain": "not a domain"}, "domain", "is not a domain name"),
        ({"company": "   "}, "company", "may not be blank"),
        ({"expected_close": "2020-01-01"}, "expected_close", "in the past"),
        ({"plan": "no-such-plan"}, "plan", "does not exist"),
        ({"use_case": "cooking"}, "use_case", "not a valid choice"),
    ],
)
def test_bad_input_is_refused_naming_the_field(world, register, fields, field, words):
    response = register(world.admin_a, **fields)
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()[field]), response.json()
    assert not DealRegistration.objects.exists()


@pytest.mark.django_db
def test_an_inactive_plan_takes_no_deals(world, register, plan):
    plan.is_active = False
    plan.save()
    response = register(world.admin_a)
    assert response.status_code == 400 and "takes no new subscriptions" in response.json()["plan"][0]


@pytest.mark.django_db
def test_notes_and_company_are_stored_as_text(world, register, client):
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    deal_id = register(world.admin_a, company=f"Evil {script}"[:200], notes=script).json()["id"]
    body = login(client, world.admin_a).get(f"/deals/{deal_id}/").content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;" in body


@pytest.mark.django_db
def test_the_protection_period_is_a_setting(world, register, client, settings):
    settings.PRM_DEAL_PROTECTION_DAYS = 30
    deal_id = register(world.admin_a).json()["id"]
    body = login(client, world.manager).post(f"/api/v1/deals/{deal_id}/approve/", {},
                                              content_type="application/json").json()  # fmt: skip
    deal = DealRegistration.objects.get(pk=deal_id)
    assert deal.protected_until - deal.decided_at == timedelta(days=30)
    assert body["is_protected"] is True
    assert deal.expected_close.isoformat() == close_date()
    assert timezone.now() < deal.protected_until
