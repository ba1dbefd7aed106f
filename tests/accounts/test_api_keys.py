"""API keys: created on the portal (secret shown once, only a hash kept), used as Bearer tokens."""

import hashlib
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from prm.accounts import services
from prm.accounts.models import ApiKey

SECRET = re.compile(r"prm_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")
CUSTOMERS_API = "/api/v1/customers/"


def _bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _assert_unauthorized(response):
    assert response.status_code == 401, response.content
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "results" not in response.json()


# --- Creating a key on the portal -----------------------------------------------------------


def test_create_key_shows_secret_once_and_stores_only_its_hash(world, login):
    client = login(world.admin_a)
    response = client.post(reverse("api_keys"), {"name": "metering pipeline"})
    assert response.status_code == 200
    secrets_shown = set(SECRET.findall(response.content.decode()))
    assert len(secrets_shown) == 1
    secret = secrets_shown.pop()

    api_key = ApiKey.objects.get()
    assert api_key.user == world.admin_a
    assert api_key.name == "metering pipeline"
    assert api_key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key.prefix.startswith("prm_")
    assert secret.startswith(api_key.prefix + "_")
    assert api_key.revoked_at is None
    assert api_key.last_used_at is None
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert not [column for column, value in row.items() if secret in str(value)]
    # Not even the random part is stored.
    random_part = secret.removeprefix(api_key.prefix + "_")
    assert not [column for column, value in row.items() if random_part in str(value)]

    again = client.get(reverse("api_keys"))
    assert again.status_code == 200
    page = again.content.decode()
    assert secret not in page
    assert random_part not in page
    assert api_key.prefix in page  # the key is still listed, recognisable by its prefix
    assert "metering pipeline" in page


def test_create_key_without_name_is_refused(world, login):
    response = login(world.admin_a).post(reverse("api_keys"), {"name": ""})
    assert response.status_code == 400
    assert response.context["form"].errors.get("name")
    assert not SECRET.search(response.content.decode())
    assert not ApiKey.objects.exists()


def test_key_page_lists_only_own_keys(world, login):
    services.api_key_create(user=world.admin_a, name="alpha key")
    services.api_key_create(user=world.admin_b, name="beta key")
    page = login(world.admin_a).get(reverse("api_keys")).content.decode()
    assert "alpha key" in page
    assert "beta key" not in page


# --- Using a key ----------------------------------------------------------------------------


def test_key_acts_in_its_users_scope(world):
    api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    assert api_key.last_used_at is None

    response = Client().get(CUSTOMERS_API, **_bearer(secret))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert {row["external_id"] for row in body["results"]} == {"cus_a1", "cus_a2"}
    assert {row["reseller"] for row in body["results"]} == {world.partner_a.pk}

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_rep_key_sees_only_assigned_customers(world):
    _api_key, secret = services.api_key_create(user=world.rep_a, name="rep")
    body = Client().get(CUSTOMERS_API, **_bearer(secret)).json()
    assert body["count"] == 1
    assert [row["external_id"] for row in body["results"]] == ["cus_a1"]


def test_customer_of_another_partner_is_not_found_with_key(world):
    _api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    response = Client().get(f"{CUSTOMERS_API}{world.customer_b1.pk}/", **_bearer(secret))
    assert response.status_code == 404


def test_revoked_key_is_refused(world):
    api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    assert Client().get(CUSTOMERS_API, **_bearer(secret)).status_code == 200
    services.api_key_revoke(actor=world.admin_a, api_key=api_key)

    _assert_unauthorized(Client().get(CUSTOMERS_API, **_bearer(secret)))


def test_key_of_deactivated_user_is_refused(world):
    _api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    world.admin_a.is_active = False
    world.admin_a.save(update_fields=["is_active"])

    _assert_unauthorized(Client().get(CUSTOMERS_API, **_bearer(secret)))


def test_wrong_key_is_refused(world):
    _api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    wrong = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    _assert_unauthorized(Client().get(CUSTOMERS_API, **_bearer(wrong)))


@pytest.mark.parametrize("header", ["Bearer a b", "Bearer", "bearer  "])
def test_malformed_header_is_refused(world, header):
    _assert_unauthorized(Client().get(CUSTOMERS_API, HTTP_AUTHORIZATION=header))


def test_no_credentials_is_401_not_403(db):
    _assert_unauthorized(Client().get(CUSTOMERS_API))


def test_bad_key_is_refused_even_with_a_session(world, login):
    # An explicit but wrong credential must not fall back to the browser session.
    client = login(world.admin_a)
    assert client.get(CUSTOMERS_API).status_code == 200
    _assert_unauthorized(client.get(CUSTOMERS_API, **_bearer("prm_00000000_not-a-real-key")))


# --- The management command -----------------------------------------------------------------


def test_create_api_key_command_prints_a_working_key_last(world):
    stdout, stderr = StringIO(), StringIO()
    call_command("create_api_key", "--user", "Admin-A@Test.Example", "--name", "ci", stdout=stdout, stderr=stderr)
    lines = stdout.getvalue().strip().splitlines()
    secret = lines[-1].strip()
    assert SECRET.fullmatch(secret), stdout.getvalue()

    api_key = ApiKey.objects.get()
    assert (api_key.user, api_key.name) == (world.admin_a, "ci")
    assert api_key.key_hash == hashlib.sha256(secret.encode()).hexdigest()

    body = Client().get(CUSTOMERS_API, **_bearer(secret)).json()
    assert {row["external_id"] for row in body["results"]} == {"cus_a1", "cus_a2"}


def test_create_api_key_command_unknown_email(world):
    with pytest.raises(CommandError, match="nobody@test.example"):
        call_command("create_api_key", "--user", "nobody@test.example", stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()


def test_create_api_key_command_inactive_user(world):
    world.rep_b.is_active = False
    world.rep_b.save(update_fields=["is_active"])
    with pytest.raises(CommandError):
        call_command("create_api_key", "--user", world.rep_b.email, stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()


# --- Revoking through the portal ------------------------------------------------------------


def test_user_revokes_own_key(world, login):
    api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    response = login(world.admin_a).post(reverse("api_key_revoke", args=[api_key.pk]))
    assert response.status_code == 302
    assert response.url == reverse("api_keys")
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    _assert_unauthorized(Client().get(CUSTOMERS_API, **_bearer(secret)))


@pytest.mark.parametrize("actor_name", ["admin_b", "rep_a"])
def test_cannot_revoke_someone_elses_key_through_the_portal(world, login, actor_name):
    api_key, secret = services.api_key_create(user=world.admin_a, name="alpha")
    response = login(getattr(world, actor_name)).post(reverse("api_key_revoke", args=[api_key.pk]))
    assert response.status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert Client().get(CUSTOMERS_API, **_bearer(secret)).status_code == 200


def test_revoke_is_post_only(world, login):
    api_key, _secret = services.api_key_create(user=world.admin_a, name="alpha")
    response = login(world.admin_a).get(reverse("api_key_revoke", args=[api_key.pk]))
    assert response.status_code == 405
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
