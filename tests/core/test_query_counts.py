"""List pages and the home page run a fixed number of queries, however many rows there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(captured)


PAGES = ["home", "partner_list", "customer_list", "user_list", "invitation_list"]
# Pinned counts for a manager (session, user, membership, then the page's own queries).
# A change here is a change in a page's cost: look at why before updating it.
EXPECTED = {"home": 12, "partner_list": 8, "customer_list": 7, "user_list": 5, "invitation_list": 4}


@pytest.mark.django_db
def test_list_pages_query_count_is_pinned_and_flat(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    before = {name: _queries(client, reverse(name)) for name in PAGES}
    # Ten times the rows: more partners, customers with reps, people.
    for _ in range(10):
        partner = factories.PartnerFactory(tier=world.partner_a.tier)
        rep = factories.partner_rep(partner)
        factories.CustomerFactory.create_batch(3, reseller=partner, assigned_rep=rep)
        factories.partner_admin(partner)
    after = {name: _queries(client, reverse(name)) for name in PAGES}
    assert before == after
    assert before == EXPECTED


@pytest.mark.django_db
def test_csv_export_query_count_is_flat(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("customer_list") + "?export=csv"
    before = _queries(client, url)
    factories.CustomerFactory.create_batch(20, reseller=world.partner_b)
    assert _queries(client, url) == before


@pytest.mark.django_db
def test_credit_list_query_count_is_pinned_and_flat(world, client):
    """Each grant's balance comes from one prefetch of the finalized invoices' drawdowns."""
    from prm.billing.credits import credit_grant_create
    from prm.customers.models import Subscription
    from prm.plans.models import Plan, PlanVersion

    plan = Plan.objects.create(code="p", name="P", currency="USD")
    version = PlanVersion.objects.create(plan=plan, version=1, charges=[{"model": "flat", "amount": "10"}])

    def grants(customers):
        for customer in customers:
            subscription = Subscription.objects.create(
                customer=customer, plan_version=version, external_id=f"sub_{customer.external_id}",
                started_at="2026-01-01T00:00:00Z",
            )  # fmt: skip
            credit_grant_create(actor=world.manager, subscription=subscription, credits="5", reason="test")

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    grants([world.customer_a1])
    urls = [reverse("credit_grant_list"), reverse("credit_grant_list") + "?export=csv"]
    before = [_queries(client, url) for url in urls]
    grants(factories.CustomerFactory.create_batch(10, reseller=world.partner_b))
    assert [_queries(client, url) for url in urls] == before
    assert before == [7, 6]
