"""The deal pages: the pipeline with counts per status, registering (from the calculator too), one deal
with its conflicts and proposal, and the forms that decide and close it."""

import pytest
from django.urls import reverse

from prm.customers.models import Customer
from prm.deals.models import DealRegistration, DealStatus
from tests.deals.conftest import close_date


def login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.mark.django_db
def test_registering_from_the_price_calculator(world, plan, client):
    login(client, world.rep_a)
    calculator = client.get(
        reverse("quote_calculator"), {"plan": plan.code, "usage_api_calls": "12345", "calculate": "1"}
    )
    body = calculator.content.decode()
    assert "Register as a deal" in body
    link = f"{reverse('deal_create')}?plan=api-grad&amp;usage_api_calls=12345&amp;calculate=1"
    assert link in body
    # The form carries the plan and the usage over.
    form = client.get(reverse("deal_create"), {"plan": plan.code, "usage_api_calls": "12345"}).content.decode()
    assert 'name="usage_api_calls"' in form and 'value="12345"' in form and "API Graduated" in form
    # Without a plan, the first step asks for one.
    assert "1. The plan" in client.get(reverse("deal_create")).content.decode()
    response = client.post(reverse("deal_create"), {
        "plan": plan.code, "company": "Zeta Robotics GmbH", "domain": "zeta-robotics.example",
        "expected_close": close_date(), "use_case": "api_calls", "usage_api_calls": "12345", "notes": "",
    })  # fmt: skip
    deal = DealRegistration.objects.get()
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    assert (deal.registered_by, deal.expected_usage, deal.proposal["total"]) == (world.rep_a, {"api_calls": "12345"},
                                                                                "100.00")  # fmt: skip
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "Print proposal" in page and "26.52" in page and "100.00" in page and "tier 3 (up to ∞)" in page


@pytest.mark.django_db
def test_the_register_form_shows_errors_on_their_fields(world, plan, client):
    login(client, world.admin_a)
    response = client.post(reverse("deal_create"), {
        "plan": plan.code, "company": "Acme", "domain": world.customer_b1.domain, "expected_close": close_date(),
        "usage_api_calls": "1.5e999999",
    })  # fmt: skip
    assert response.status_code == 200
    body = response.content.decode()
    assert "existing customer of another partner" in body or "out of range" in body
    assert "B1 Corp" not in body and "Beta" not in body
    assert not DealRegistration.objects.exists()
    # Managers and customers do not register: 403.
    for user in (world.manager, world.customer_user_a1):
        assert login(client, user).get(reverse("deal_create")).status_code == 403


@pytest.mark.django_db
def test_the_pipeline_counts_each_status(world, register, client):
    first = register(world.rep_a).json()["id"]
    register(world.admin_a, domain="second.example")
    register(world.admin_b, domain="third.example", company="Third Co")
    login(client, world.manager).post(reverse("deal_reject", args=[first]), {"reject-reason": "No"})
    body = client.get(reverse("deal_list")).content.decode()
    assert '<span class="kpi-label">Submitted</span><span class="kpi-value">2</span>' in body
    assert '<span class="kpi-label">Rejected</span><span class="kpi-value">1</span>' in body
    assert '<span class="kpi-label">All registrations</span><span class="kpi-value">3</span>' in body
    # A partner admin's pipeline is its own: 2 registrations, none of B's.
    body = login(client, world.admin_a).get(reverse("deal_list")).content.decode()
    assert '<span class="kpi-label">All registrations</span><span class="kpi-value">2</span>' in body
    assert "Third Co" not in body and "Beta" not in body
    # Filters: status and conflicts; CSV export.
    login(client, world.manager)
    filtered = client.get(reverse("deal_list"), {"status": "rejected"}).content.decode()
    assert "1 result" in filtered
    csv = b"".join(client.get(reverse("deal_list"), {"export": "csv"}).streaming_content).decode()
    assert "third.example" in csv and "second.example" in csv


@pytest.mark.django_db
def test_the_deal_page_states_conflicts_to_each_reader(world, register, client):
    theirs = register(world.admin_b, domain="zeta-robotics.example").json()["id"]
    ours = register(world.admin_a, company="Zeta Robotics Inc", domain="zeta.example").json()["id"]
    partner_view = login(client, world.admin_a).get(reverse("deal_detail", args=[ours])).content.decode()
    assert "1 conflict" in partner_view and "Another partner&#x27;s registration" in partner_view
    assert "Beta" not in partner_view and f"/deals/{theirs}/" not in partner_view
    manager_view = login(client, world.manager).get(reverse("deal_detail", args=[ours])).content.decode()
    assert "Beta Partners registered" in manager_view and f"/deals/{theirs}/" in manager_view
    assert "Approve" in manager_view and "Reject" in manager_view
    # Approve theirs; ours can then not be approved: the page says why.
    client.post(reverse("deal_approve", args=[theirs]), {"approve-reason": "First"})
    response = client.post(reverse("deal_approve", args=[ours]), {"approve-reason": ""}, follow=True)
    assert "protected until" in response.content.decode()
    assert DealRegistration.objects.get(pk=ours).status == DealStatus.SUBMITTED


@pytest.mark.django_db
def test_won_and_lost_from_the_deal_page(world, register, client):
    won = register(world.rep_a).json()["id"]
    lost = register(world.rep_a, domain="lost.example").json()["id"]
    login(client, world.manager)
    for pk in (won, lost):
        client.post(reverse("deal_approve", args=[pk]), {})
    # The rep may mark lost, not won; the partner admin may do both.
    page = login(client, world.rep_a).get(reverse("deal_detail", args=[won])).content.decode()
    assert "Mark lost" in page and "Mark won" not in page
    assert client.post(reverse("deal_won", args=[won]), {"won-external_id": "cus_zeta"}).status_code == 403
    client.post(reverse("deal_lost", args=[lost]), {"lost-reason": "Budget cut"})
    assert DealRegistration.objects.get(pk=lost).status == DealStatus.LOST
    login(client, world.admin_a)
    assert "Mark won" in client.get(reverse("deal_detail", args=[won])).content.decode()
    response = client.post(reverse("deal_won", args=[won]), {"won-external_id": "bad id!"}, follow=True)
    assert "Use letters, digits" in response.content.decode()
    response = client.post(reverse("deal_won", args=[won]), {"won-external_id": "cus_zeta"}, follow=True)
    assert "Won: Zeta Robotics GmbH is customer cus_zeta" in response.content.decode()
    assert Customer.objects.get(external_id="cus_zeta").reseller == world.partner_a
    # Another partner reaches none of it.
    login(client, world.admin_b)
    for name in ("deal_detail",):
        assert client.get(reverse(name, args=[won])).status_code == 404
    for name in ("deal_won", "deal_lost", "deal_approve", "deal_reject", "deal_proposal"):
        assert client.post(reverse(name, args=[won]), {}).status_code == 404
