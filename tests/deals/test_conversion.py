"""A won deal becomes a customer with a subscription, without retyping (prm/operations/deal_conversion.py)."""

import pytest
from django.utils import timezone

from prm.billing.services import invoice_refresh_draft
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer, Subscription
from prm.deals.models import DealRegistration, DealStatus
from prm.notifications.models import Notification


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def approved(world, register, client):
    """A deal registered by rep A, approved by the manager."""
    deal_id = register(world.rep_a).json()["id"]
    assert login(client, world.manager).post(f"/api/v1/deals/{deal_id}/approve/", {},
                                              content_type="application/json").status_code == 200  # fmt: skip
    return DealRegistration.objects.get(pk=deal_id)


@pytest.mark.django_db
def test_won_creates_the_customer_and_its_subscription(world, approved, plan, client):
    start = BillingPeriod.containing(timezone.now()).start
    response = login(client, world.admin_a).post(
        f"/api/v1/deals/{approved.pk}/won/", {"external_id": "cus_zeta", "started_at": start.isoformat()},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["customer"], body["subscription"]) == ("won", "cus_zeta", "sub_zeta")
    customer = Customer.objects.get(external_id="cus_zeta")
    # Everything from the deal: reseller, name, domain, use case, the plan's currency, the rep who registered it.
    assert (customer.reseller, customer.name, customer.domain) == (world.partner_a, "Zeta Robotics GmbH",
                                                                   "zeta-robotics.example")  # fmt: skip
    assert (customer.use_case, customer.currency, customer.assigned_rep) == ("api_calls", "USD", world.rep_a)
    subscription = Subscription.objects.get(external_id="sub_zeta")
    assert (subscription.customer, subscription.plan_version, subscription.started_at) == (
        customer,
        plan.current_version,
        start,
    )
    deal = DealRegistration.objects.get(pk=approved.pk)
    assert (deal.customer, deal.subscription, deal.closed_by, deal.protected_until) == (
        customer,
        subscription,
        world.admin_a,
        None,
    )
    # A usage-free draft invoice of this month: the 49.00 fee, no calls, and the minimum's true-up to 100.00.
    draft = invoice_refresh_draft(subscription=subscription, period=BillingPeriod.containing(timezone.now()))
    assert [(line.model, line.amount) for line in draft.lines.order_by("position")] == [
        ("flat", 49),
        ("graduated", 0),
        ("minimum_commitment", 51),
    ]
    assert draft.total == 100
    # The rep, the partner's admin and the managers are told.
    told = Notification.objects.filter(kind="deal.won").values_list("recipient__email", flat=True)
    assert sorted(told) == ["admin-a@test.example", "manager@test.example", "rep-a@test.example"]
    # The rep now sees the customer assigned to them.
    login(client, world.rep_a)
    assert client.get(f"/api/v1/customers/{customer.pk}/").status_code == 200
    # A deal is won once.
    again = login(client, world.admin_a).post(f"/api/v1/deals/{approved.pk}/won/", {"external_id": "cus_zeta2"},
                                              content_type="application/json")  # fmt: skip
    assert again.status_code == 400
    assert again.json()["status"] == ["Only an approved registration can be marked won; this one is won."]


@pytest.mark.django_db
def test_who_may_mark_a_deal_won(world, approved, client):
    url = f"/api/v1/deals/{approved.pk}/won/"
    body = {"external_id": "cus_zeta"}
    # The rep who registered it: 403 (adding customers is the partner admin's); another partner: 404.
    assert login(client, world.rep_a).post(url, body, content_type="application/json").status_code == 403
    assert login(client, world.admin_b).post(url, body, content_type="application/json").status_code == 404
    assert login(client, world.customer_user_a1).post(url, body, content_type="application/json").status_code == 404
    assert not Customer.objects.filter(external_id="cus_zeta").exists()
    # A manager may.
    response = login(client, world.manager).post(url, body, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "won"


@pytest.mark.django_db
def test_won_is_refused_before_approval_and_on_bad_input(world, register, approved, client):
    submitted = register(world.admin_a, domain="not-yet.example").json()["id"]
    login(client, world.admin_a)
    response = client.post(f"/api/v1/deals/{submitted}/won/", {"external_id": "cus_x"}, content_type="application/json")
    assert response.status_code == 400 and "status" in response.json()
    url = f"/api/v1/deals/{approved.pk}/won/"
    cases = [
        ({}, "external_id"),
        ({"external_id": "bad id!"}, "external_id"),
        ({"external_id": world.customer_a1.external_id}, "external_id"),  # taken
        ({"external_id": "cus_new", "currency": "EUR"}, "currency"),
        ({"external_id": "cus_new", "subscription_external_id": "no spaces allowed"}, "subscription_external_id"),
        ({"external_id": "cus_new", "use_case": "cooking"}, "use_case"),
        ({"external_id": "cus_new", "started_at": "yesterday"}, "started_at"),
    ]
    for body, field in cases:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400 and field in response.json(), (body, response.json())
    # Nothing half-made: no customer, the deal still approved.
    assert not Customer.objects.filter(external_id="cus_new").exists()
    assert DealRegistration.objects.get(pk=approved.pk).status == DealStatus.APPROVED
    # A closed period is not started in.
    ClosedBillingPeriod.objects.create(period="2026-10")
    response = client.post(url, {"external_id": "cus_new", "started_at": "2026-10-05T00:00:00Z"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 400 and "closed" in response.json()["started_at"][0]


@pytest.mark.django_db
def test_won_is_refused_when_the_domain_became_a_customer_meanwhile(world, approved, client):
    world.customer_b1.domain = approved.domain
    world.customer_b1.save()
    response = login(client, world.admin_a).post(f"/api/v1/deals/{approved.pk}/won/", {"external_id": "cus_zeta"},
                                                 content_type="application/json")  # fmt: skip
    assert response.status_code == 400
    assert "existing customer of another partner" in response.json()["domain"][0]
    assert not Customer.objects.filter(external_id="cus_zeta").exists()


@pytest.mark.django_db
def test_a_deal_without_use_case_asks_for_it_when_won(world, register, client):
    deal_id = register(world.admin_a, use_case="").json()["id"]
    login(client, world.manager).post(f"/api/v1/deals/{deal_id}/approve/", {}, content_type="application/json")
    login(client, world.admin_a)
    url = f"/api/v1/deals/{deal_id}/won/"
    response = client.post(url, {"external_id": "cus_zeta"}, content_type="application/json")
    assert response.status_code == 400 and "use_case" in response.json()
    response = client.post(url, {"external_id": "cus_zeta", "use_case": "iot"}, content_type="application/json")
    assert response.status_code == 200
    assert Customer.objects.get(external_id="cus_zeta").use_case == "iot"
