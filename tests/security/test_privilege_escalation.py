"""Privilege escalation: each role tries what only a higher role may do, on its *own* tenant's rows
(the cross-tenant test covers other tenants' rows). Every attempt is refused and changes nothing."""

import pytest
from django.urls import reverse

from prm.accounts.models import Invitation
from prm.customers.models import Customer
from prm.incentives.models import MdfRequest, Statement
from prm.partners.models import Partner, TierEvaluation
from prm.usage.models import AlertRule
from tests.core.test_cross_tenant import _sell_rows_of_b, _tier_rows_of_b, _usage_of_b

pytestmark = pytest.mark.django_db


def test_a_partner_rep_cannot_act_as_its_admin(world, login):
    client = login(world.rep_a)
    # Inviting people into the partner, on the page and (as the role field) the admin's roles.
    assert client.get(reverse("invitation_create")).status_code == 403
    response = client.post(reverse("invitation_create"), {"email": "x@alpha.example", "role": "partner_admin"})
    assert response.status_code == 403
    assert not Invitation.objects.filter(email="x@alpha.example").exists()
    # Editing its own partner (name, tier, stage are the vendor's to set).
    response = client.post(reverse("partner_edit", args=[world.partner_a.pk]), {"name": "Hijacked"})
    assert response.status_code == 403
    api = client.patch(f"/api/v1/partners/{world.partner_a.pk}/", {"name": "Hijacked"}, content_type="application/json")
    assert api.status_code == 403
    # Editing a customer assigned to it (a rep looks; the admin changes).
    assert client.post(reverse("customer_edit", args=[world.customer_a1.pk]), {"name": "Hijacked"}).status_code == 403
    api = client.patch(
        f"/api/v1/customers/{world.customer_a1.pk}/", {"name": "Hijacked"}, content_type="application/json"
    )
    assert api.status_code == 403
    assert Partner.objects.get(pk=world.partner_a.pk).name == "Alpha Partners"
    assert Customer.objects.get(pk=world.customer_a1.pk).name == "A1 Corp"
    # The statements are the admin's and the vendor's: a rep finds none, not even its own partner's.
    own = Statement.objects.create(partner=world.partner_a, period="2026-11", currency="USD", entries_total=1, total=1)
    assert client.get("/api/v1/statements/").json()["count"] == 0
    assert client.post(reverse("statement_approve", args=[own.pk])).status_code == 404
    assert Statement.objects.get(pk=own.pk).status == "draft"


def test_a_partner_admin_cannot_approve_its_own_money(world, login):
    """Its own statement, its own MDF request (approve, mark paid), its own tier upgrade, its own deal."""
    _usage_of_b(world)
    draft = Statement.objects.create(
        partner=world.partner_b, period="2026-11", currency="USD", entries_total=9, total=9
    )
    evaluation = _tier_rows_of_b(world)[TierEvaluation]
    sell = _sell_rows_of_b(world)
    deal, mdf = sell[next(iter(sell))], sell[MdfRequest]
    client = login(world.admin_b)
    attempts = [
        ("post", reverse("statement_approve", args=[draft.pk])),
        ("post", f"/api/v1/statements/{draft.pk}/approve/"),
        ("post", reverse("mdf_request_approve", args=[mdf.pk])),
        ("post", f"/api/v1/mdf-requests/{mdf.pk}/approve/"),
        ("post", reverse("mdf_request_paid", args=[mdf.pk])),
        ("post", f"/api/v1/mdf-requests/{mdf.pk}/paid/"),
        ("post", reverse("tier_evaluation_confirm", args=[evaluation.pk])),
        ("post", f"/api/v1/tier-evaluations/{evaluation.pk}/confirm/"),
        ("post", reverse("deal_approve", args=[deal.pk])),
        ("post", f"/api/v1/deals/{deal.pk}/approve/"),
    ]
    for method, url in attempts:
        # Every form's fields, prefixed as the detail pages post them, so that the form is valid and
        # the refusal is the service's (a 403), not a form error.
        data = {"reason": "self", "reference": "X", "approve-reason": "self", "paid-reference": "X"}
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (url, response.status_code)
    assert Statement.objects.get(pk=draft.pk).status == "draft"
    assert MdfRequest.objects.get(pk=mdf.pk).status == "requested"
    assert TierEvaluation.objects.get(pk=evaluation.pk).status == "proposed"
    deal.refresh_from_db()
    assert deal.status == "submitted"
    world.partner_b.refresh_from_db()
    assert world.partner_b.tier.code == "registered"
    # Positive control: the channel manager may approve that statement.
    manager = login(world.manager)
    assert manager.post(reverse("statement_approve", args=[draft.pk])).status_code == 302
    assert Statement.objects.get(pk=draft.pk).status == "approved"


def test_a_customer_cannot_read_its_partners_commissions_or_other_customers(world, login):
    usage = _usage_of_b(world)  # B's commission entry and paid statement
    client = login(world.customer_user_b1)  # B's own customer
    for url in ("/api/v1/commissions/", "/api/v1/statements/", "/api/v1/payouts/"):
        response = client.get(url)
        assert response.status_code in (200, 403), url
        if response.status_code == 200:
            assert response.json()["count"] == 0, url
    statement = next(value for key, value in usage.items() if key is Statement)
    assert client.get(f"/api/v1/statements/{statement.pk}/").status_code in (403, 404)
    for name in ("commission_list", "statement_list"):
        response = client.get(reverse(name))
        assert response.status_code == 403 or "3.00" not in response.content.decode(), name
    assert client.get(reverse("statement_detail", args=[statement.pk])).status_code in (403, 404)
    # Its partner's other customers: neither listed nor found.
    other = Customer.objects.create(reseller=world.partner_b, name="B2 Corp", external_id="cus_b2")
    listed = client.get("/api/v1/customers/").json()
    assert [row["external_id"] for row in listed["results"]] == ["cus_b1"]
    assert client.get(f"/api/v1/customers/{other.pk}/").status_code == 404
    assert client.get(reverse("customer_detail", args=[other.pk])).status_code == 404
    assert client.get(f"/api/v1/partners/{world.partner_b.pk}/").status_code == 404


def test_a_customer_viewer_cannot_write(world, login):
    client = login(world.customer_viewer_a1)
    assert client.get(reverse("alert_rule_create")).status_code == 403
    assert client.get(reverse("invitation_create")).status_code == 403
    assert (
        client.post(reverse("invitation_create"), {"email": "v@a1.example", "role": "customer_admin"}).status_code
        == 403
    )
    response = client.post(
        "/api/v1/alert-rules/",
        {"customer": world.customer_a1.pk, "measure": "usage", "basis": "absolute", "threshold": "1"},
        content_type="application/json",
    )
    assert response.status_code == 403
    for name in ("events", "events-batch"):
        assert client.post(reverse(name), "{}", content_type="application/json").status_code == 403
    response = client.patch(
        f"/api/v1/customers/{world.customer_a1.pk}/", {"name": "Hijacked"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Customer.objects.get(pk=world.customer_a1.pk).name == "A1 Corp"
    assert not AlertRule.objects.exists() and not Invitation.objects.filter(email="v@a1.example").exists()
