"""The API's errors are JSON naming the field or giving a detail, whatever went wrong; and each
API key has its own request rate."""

import pytest
from django.test import Client, override_settings
from django.urls import path
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from prm.accounts.services import api_key_create


def _bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


class _Broken(APIView):
    """A view that fails the way a bug would (tests only: mounted by the urlconf below)."""

    def get(self, request):
        raise RuntimeError("boom")


class _ModelInvalid(APIView):
    """A view whose service raises Django's ValidationError outside `call_service`."""

    def get(self, request):
        from django.core.exceptions import ValidationError

        raise ValidationError({"threshold": ["Threshold must be positive."]})


urlpatterns = [
    path("api/v1/test-broken", _Broken.as_view()),
    path("api/v1/test-model-invalid", _ModelInvalid.as_view()),
]
handler500 = "prm.core.errors.server_error"  # the portal's own, as in prm/urls.py


@pytest.mark.django_db
def test_validation_errors_name_the_field(world, client):
    _key, secret = api_key_create(user=world.manager, name="errors")
    response = client.post("/api/v1/customers/", {"name": ""}, content_type="application/json", **_bearer(secret))
    assert response.status_code == 400
    body = response.json()
    assert body["name"] == ["This field may not be blank."]
    assert body["external_id"] == ["This field is required."]


@pytest.mark.django_db
def test_not_found_method_and_auth_errors_are_json_details(world, client):
    _key, secret = api_key_create(user=world.admin_a, name="errors")
    missing = client.get(f"/api/v1/customers/{world.customer_b1.pk}/", **_bearer(secret))
    assert missing.status_code == 404 and missing.json() == {"detail": "No Customer matches the given query."}
    unknown_route = client.get("/api/v1/no-such-route/", **_bearer(secret))
    assert unknown_route.status_code == 404 and unknown_route.json() == {"detail": "Not found."}
    deleted = client.delete(f"/api/v1/customers/{world.customer_a1.pk}/", **_bearer(secret))
    assert deleted.status_code == 405 and deleted.json() == {"detail": 'Method "DELETE" not allowed.'}
    wrong_key = client.get("/api/v1/customers/", **_bearer("prm_nope_nope"))
    assert wrong_key.status_code == 401 and wrong_key.json() == {"detail": "Invalid or revoked API key."}
    malformed = client.post("/api/v1/customers/", "{", content_type="application/json", **_bearer(secret))
    assert malformed.status_code == 400 and malformed.json()["detail"].startswith("JSON parse error")


@pytest.mark.django_db
@pytest.mark.urls("tests.api.test_errors_and_throttling")
def test_server_errors_and_model_errors_answer_json(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    broken = client.get("/api/v1/test-broken")
    assert broken.status_code == 500
    assert broken["Content-Type"] == "application/json"
    assert broken.json() == {"detail": "Server error. It has been logged."}
    invalid = client.get("/api/v1/test-model-invalid")
    assert invalid.status_code == 400
    assert invalid.json() == {"threshold": ["Threshold must be positive."]}


def _rates(**rates):
    return override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates})


def _rest_framework():
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


@pytest.mark.django_db
def test_a_key_over_its_rate_gets_429_and_another_key_does_not(world, client):
    _first, first_secret = api_key_create(user=world.admin_a, name="busy")
    _second, second_secret = api_key_create(user=world.admin_a, name="calm")  # same person, its own allowance
    with _rates(api="3/min", ingest="100/min", anon="1/min"):
        assert api_settings.DEFAULT_THROTTLE_RATES["api"] == "3/min"
        statuses = [client.get("/api/v1/customers/", **_bearer(first_secret)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        throttled = client.get("/api/v1/customers/", **_bearer(first_secret))
        assert throttled.status_code == 429
        assert throttled["Content-Type"] == "application/json"
        assert throttled.json()["detail"].startswith("Request was throttled. Expected available in")
        assert 0 < int(throttled["Retry-After"]) <= 60
        assert client.get("/api/v1/customers/", **_bearer(second_secret)).status_code == 200
        # Ingestion has its own allowance: the busy key can still send usage.
        listing = client.get("/api/v1/events", **_bearer(first_secret))
        assert listing.status_code == 200


@pytest.mark.django_db
def test_browser_sessions_are_throttled_per_person(world, client):
    with _rates(api="2/min", ingest="2/min", anon="1/min"):
        client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
        assert [client.get("/api/v1/customers/").status_code for _ in range(3)] == [200, 200, 429]
        other = Client()
        other.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
        assert other.get("/api/v1/customers/").status_code == 200


@pytest.mark.django_db
def test_default_rates_come_from_settings():
    rates = api_settings.DEFAULT_THROTTLE_RATES
    assert set(rates) == {"api", "ingest", "anon"}
    # 20,000 events/s batched is 20 requests of 1,000 events a second: far inside the ingest rate.
    number, period = rates["ingest"].split("/")
    assert int(number) / {"s": 1, "m": 60, "h": 3600}[period[0]] >= 100
