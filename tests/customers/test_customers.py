"""Customers in the portal and the API: who may add and change them, and bad input."""

import pytest
from django.urls import reverse

from prm.customers.models import Customer

VALID = {
    "external_id": "cus_new_one",
    "name": "New One Ltd",
    "domain": "https://www.NewOne.example/about",
    "use_case": "storage",
    "currency": "EUR",
    "is_active": "on",
}


@pytest.mark.django_db
def test_partner_admin_adds_a_customer_to_their_own_partner_only(world, login):
    client = login(world.admin_a)
    # Even a tampered form naming partner B lands the customer in partner A.
    response = client.post(reverse("customer_create"), {**VALID, "reseller": world.partner_b.pk})
    customer = Customer.objects.get(external_id="cus_new_one")
    assert response.status_code == 302 and response["Location"] == customer.get_absolute_url()
    assert customer.reseller == world.partner_a
    assert customer.domain == "newone.example"  # normalised from the URL that was typed


@pytest.mark.django_db
def test_manager_adds_a_customer_for_any_partner(world, login):
    client = login(world.manager)
    client.post(reverse("customer_create"), {**VALID, "reseller": world.partner_b.pk})
    assert Customer.objects.get(external_id="cus_new_one").reseller == world.partner_b


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("external_id", "", "This field is required."),
        ("external_id", "has spaces", "Use letters, digits"),
        ("external_id", "cus_a1", "Customer with this External id already exists."),
        ("domain", "not a domain", "is not a domain name"),
        ("currency", "XXX", "Select a valid choice"),
        ("use_case", "mining", "Select a valid choice"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(world, login, field, value, message):
    client = login(world.admin_a)
    before = Customer.objects.count()
    response = client.post(reverse("customer_create"), {**VALID, field: value})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(message in error for error in errors[field]), errors
    assert Customer.objects.count() == before


@pytest.mark.django_db
def test_assigned_rep_must_belong_to_the_reseller(world, login):
    client = login(world.manager)
    response = client.post(
        reverse("customer_create"), {**VALID, "reseller": world.partner_a.pk, "assigned_rep": world.rep_b.pk}
    )
    assert "assigned_rep" in response.context["form"].errors
    assert not Customer.objects.filter(external_id="cus_new_one").exists()


@pytest.mark.django_db
def test_partner_admin_edits_but_cannot_move_or_rename_the_external_id(world, login):
    client = login(world.admin_a)
    url = reverse("customer_edit", args=[world.customer_a2.pk])
    response = client.post(
        url,
        {**VALID, "external_id": "cus_changed", "name": "A2 Renamed", "assigned_rep": world.rep_a.pk},
    )
    assert response.status_code == 302
    world.customer_a2.refresh_from_db()
    assert world.customer_a2.name == "A2 Renamed"
    assert world.customer_a2.external_id == "cus_a2"  # what metering sends never changes here
    assert world.customer_a2.reseller == world.partner_a
    assert world.customer_a2.assigned_rep == world.rep_a


@pytest.mark.django_db
def test_api_create_and_update_follow_the_same_rules(world, client):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    created = client.post(
        "/api/v1/customers/",
        {"external_id": "cus_api", "name": "Api Co", "domain": "api.example", "use_case": "api_calls"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["reseller"] == world.partner_a.pk
    # Naming partner B reads as "does not exist", not "forbidden".
    other = client.post(
        "/api/v1/customers/",
        {
            "external_id": "cus_api2",
            "name": "X",
            "domain": "x.example",
            "use_case": "iot",
            "reseller": world.partner_b.pk,
        },
        content_type="application/json",
    )
    assert other.status_code == 400 and "reseller" in other.json()
    assert "does not exist" in other.json()["reseller"][0]
    bad = client.post(
        "/api/v1/customers/",
        {"external_id": "cus bad", "name": "", "domain": "nope", "use_case": "iot", "currency": "XXX"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) >= {"external_id", "name", "currency"}
    patched = client.patch(
        f"/api/v1/customers/{created.json()['id']}/",
        {"name": "Api Co 2", "external_id": "cus_ignored"},
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Api Co 2"
    assert patched.json()["external_id"] == "cus_api"
    domain = client.patch(
        f"/api/v1/customers/{created.json()['id']}/", {"domain": "not a domain"}, content_type="application/json"
    )
    assert domain.status_code == 400 and "domain" in domain.json()
    assert Customer.objects.get(external_id="cus_api").domain == "api.example"


@pytest.mark.django_db
def test_reps_and_customers_cannot_write_through_the_api(world, client):
    for user in (world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        response = client.patch(
            f"/api/v1/customers/{world.customer_a1.pk}/", {"name": "nope"}, content_type="application/json"
        )
        assert response.status_code == 403, user.email
        created = client.post(
            "/api/v1/customers/",
            {"external_id": "cus_x", "name": "X", "domain": "x.example", "use_case": "iot"},
            content_type="application/json",
        )
        assert created.status_code == 403
    world.customer_a1.refresh_from_db()
    assert world.customer_a1.name == "A1 Corp"
    assert not Customer.objects.filter(external_id="cus_x").exists()


@pytest.mark.django_db
def test_api_filters_use_the_filterset(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    by_partner = client.get("/api/v1/customers/", {"reseller": world.partner_b.pk}).json()
    assert [row["external_id"] for row in by_partner["results"]] == ["cus_b1"]
    by_id = client.get("/api/v1/customers/", {"external_id": "cus_a2"}).json()
    assert by_id["count"] == 1
