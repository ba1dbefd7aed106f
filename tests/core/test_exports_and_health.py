import csv
import io

import pytest
from django.core.checks import Error
from django.urls import reverse

from prm.core.checks import secret_key_is_set
from tests import factories


def _csv(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_csv_export_has_every_filtered_row_and_neutralises_formulas(world, login):
    factories.CustomerFactory(reseller=world.partner_a, name='=HYPERLINK("http://evil")', external_id="cus_evil")
    client = login(world.admin_a)
    rows = _csv(client.get(reverse("customer_list"), {"export": "csv"}))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["Name", "External id"]
    assert sorted(row[1] for row in body) == ["cus_a1", "cus_a2", "cus_evil"]
    evil = next(row for row in body if row[1] == "cus_evil")
    assert evil[0].startswith("'=")  # a spreadsheet shows it as text instead of running it
    filtered = _csv(client.get(reverse("customer_list"), {"export": "csv", "q": "A1"}))
    assert [row[1] for row in filtered[1:]] == ["cus_a1"]


@pytest.mark.django_db
def test_csv_export_is_not_limited_to_one_page(world, login):
    factories.CustomerFactory.create_batch(30, reseller=world.partner_a)
    client = login(world.admin_a)
    page = client.get(reverse("customer_list"))
    assert page.context["table"].paginator.count == 32
    assert len(page.context["table"].page.object_list) == 25
    assert len(_csv(client.get(reverse("customer_list"), {"export": "csv"}))) == 1 + 32


@pytest.mark.django_db
def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_production_process_refuses_the_development_secret_key(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = settings.INSECURE_DEV_SECRET_KEY
    errors = secret_key_is_set(None)
    assert [error.id for error in errors] == ["prm.E001"] and isinstance(errors[0], Error)
    settings.SECRET_KEY = "a-real-production-secret-" + "x" * 40
    assert secret_key_is_set(None) == []


@pytest.mark.django_db
def test_error_pages_use_the_portal_frame_and_api_errors_are_json(world, login):
    client = login(world.admin_a)
    not_found = client.get("/no-such-page/")
    assert not_found.status_code == 404
    assert "We could not find that page" in not_found.content.decode()
    api = client.get("/api/v1/customers/999999/")
    assert api.status_code == 404 and api.json() == {"detail": "No Customer matches the given query."}
    forbidden = client.get(reverse("partner_create"))
    assert forbidden.status_code == 403 and "You cannot do that" in forbidden.content.decode()
