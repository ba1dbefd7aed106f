"""The API opened in a browser (DRF's browsable API): every kind of route renders, ingestion too."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/events", 200),  # reads its body raw: no parser for DRF's form to take
        ("/api/v1/events/batch", 405),  # POST only: the 405 page renders as well
        ("/api/v1/customers/", 200),
        ("/api/v1/invoices/", 200),
    ],
)
def test_routes_render_as_html_in_a_browser(world, client, url, status):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert b"Django REST framework" in response.content
