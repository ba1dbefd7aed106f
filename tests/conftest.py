from dataclasses import dataclass

import pytest
from django.core.cache import cache

from tests import factories


@pytest.fixture(autouse=True)
def _clear_cache():
    # Login rate limits live in the cache; one test's failures must not lock out the next.
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    """Two partners side by side, with every role on each side, for scope tests."""

    manager: object
    partner_a: object
    partner_b: object
    admin_a: object
    rep_a: object
    admin_b: object
    rep_b: object
    customer_a1: object  # assigned to rep_a
    customer_a2: object  # not assigned
    customer_b1: object
    customer_user_a1: object
    customer_viewer_a1: object
    customer_user_a2: object
    customer_user_b1: object


@pytest.fixture
def world(db) -> World:
    tier = factories.TierFactory(code="registered", name="Registered", rank=1)
    partner_a = factories.PartnerFactory(name="Alpha Partners", website_domain="alpha.example.com", tier=tier)
    partner_b = factories.PartnerFactory(name="Beta Partners", website_domain="beta.example.com", tier=tier)
    rep_a = factories.partner_rep(partner_a, email="rep-a@test.example", full_name="Rep A")
    customer_a1 = factories.CustomerFactory(
        reseller=partner_a, name="A1 Corp", external_id="cus_a1", assigned_rep=rep_a
    )
    customer_a2 = factories.CustomerFactory(reseller=partner_a, name="A2 Corp", external_id="cus_a2")
    customer_b1 = factories.CustomerFactory(reseller=partner_b, name="B1 Corp", external_id="cus_b1")
    return World(
        manager=factories.manager(email="manager@test.example", full_name="Manager"),
        partner_a=partner_a,
        partner_b=partner_b,
        admin_a=factories.partner_admin(partner_a, email="admin-a@test.example", full_name="Admin A"),
        rep_a=rep_a,
        admin_b=factories.partner_admin(partner_b, email="admin-b@test.example", full_name="Admin B"),
        rep_b=factories.partner_rep(partner_b, email="rep-b@test.example"),
        customer_a1=customer_a1,
        customer_a2=customer_a2,
        customer_b1=customer_b1,
        customer_user_a1=factories.customer_admin(customer_a1, email="cust-a1@test.example"),
        customer_viewer_a1=factories.customer_viewer(customer_a1, email="viewer-a1@test.example"),
        customer_user_a2=factories.customer_admin(customer_a2, email="cust-a2@test.example"),
        customer_user_b1=factories.customer_admin(customer_b1, email="cust-b1@test.example"),
    )


@pytest.fixture
def login(client):
    """Sign a user in to the test client and return the client."""

    def _login(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
