"""The dashboards' growth tables export as CSV from the landing page itself (`/?export=csv`)."""

import pytest


def _csv(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/", {"export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode()


@pytest.mark.django_db
def test_partner_and_manager_growth_tables_export(world, client):
    partner_rows = _csv(client, world.admin_a).splitlines()
    manager_rows = _csv(client, world.manager).splitlines()
    assert partner_rows and "Customer" in partner_rows[0]
    assert manager_rows and "Partner" in manager_rows[0]
    # A partner's export never names another partner's customers.
    assert "B1 Corp" not in "\n".join(partner_rows)
