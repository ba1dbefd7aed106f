"""Signing in (allauth, email as login), its rate limit, closed sign-up, and each role's home."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from prm.accounts.models import User
from tests.factories import PASSWORD

TOO_MANY = "Too many failed login attempts"
WRONG_PASSWORD = "not the password 99"


def _sign_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _signed_in_user(client):
    return client.get(reverse("home")).wsgi_request.user


def test_login_page_renders_for_anonymous(db, client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="login"' in page
    assert 'type="email"' in page
    assert 'name="password"' in page


def test_right_password_signs_in_and_lands_home(world, client):
    response = _sign_in(client, world.admin_a.email, PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert _signed_in_user(client) == world.admin_a


def test_email_is_case_insensitive(world, client):
    response = _sign_in(client, "ADMIN-A@Test.Example", PASSWORD)
    assert response.status_code == 302
    assert _signed_in_user(client) == world.admin_a


def test_wrong_password_shows_an_error(world, client):
    response = _sign_in(client, world.admin_a.email, WRONG_PASSWORD)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "not correct" in response.content.decode()
    assert not _signed_in_user(client).is_authenticated


def test_inactive_user_cannot_sign_in(world, client):
    world.admin_a.is_active = False
    world.admin_a.save(update_fields=["is_active"])
    _sign_in(client, world.admin_a.email, PASSWORD)
    assert not _signed_in_user(client).is_authenticated


# --- Rate limit on failed logins ------------------------------------------------------------


def test_rate_limit_is_configured_on_a_real_cache():
    # DummyCache would silently switch allauth's rate limits off.
    assert settings.CACHES["default"]["BACKEND"] != "django.core.cache.backends.dummy.DummyCache"
    cache.set("rate-limit-probe", 1)
    assert cache.get("rate-limit-probe") == 1
    assert "5/5m/key" in settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")


def test_failed_logins_lock_the_account_even_for_the_right_password(world, client):
    for attempt in range(5):
        response = _sign_in(client, world.admin_a.email, WRONG_PASSWORD)
        assert response.status_code == 200
        page = response.content.decode()
        assert TOO_MANY not in page, f"limited already at attempt {attempt + 1}"
        assert "not correct" in page

    response = _sign_in(client, world.admin_a.email, PASSWORD)
    assert response.status_code != 302
    assert TOO_MANY in response.content.decode()
    anonymous_home = client.get(reverse("home"))
    assert anonymous_home.status_code == 302
    assert anonymous_home.url.startswith(reverse("account_login"))

    # From a fresh browser too: the limit is on the account, not the session.
    other_browser = Client()
    response = _sign_in(other_browser, world.admin_a.email, PASSWORD)
    assert TOO_MANY in response.content.decode()
    assert not _signed_in_user(other_browser).is_authenticated


def test_lock_is_per_account(world, client):
    for _ in range(5):
        _sign_in(client, world.admin_a.email, WRONG_PASSWORD)
    assert TOO_MANY in _sign_in(client, world.admin_a.email, PASSWORD).content.decode()

    response = _sign_in(client, world.admin_b.email, PASSWORD)
    assert response.status_code == 302
    assert _signed_in_user(client) == world.admin_b


def test_successful_logins_do_not_count_towards_the_limit(world):
    for _ in range(6):
        client = Client()
        assert _sign_in(client, world.admin_a.email, PASSWORD).status_code == 302
    for _ in range(4):
        _sign_in(Client(), world.admin_a.email, WRONG_PASSWORD)
    client = Client()
    assert _sign_in(client, world.admin_a.email, PASSWORD).status_code == 302
    assert _signed_in_user(client) == world.admin_a


# --- Anonymous visitors ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/partners/", "/customers/", "/invitations/", "/settings/api-keys/"])
def test_anonymous_pages_redirect_to_login(db, client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert f"next={path}" in response.url.replace("%2F", "/")


@pytest.mark.parametrize("path", ["/api/v1/partners/", "/api/v1/customers/", "/api/v1/users/"])
def test_anonymous_api_is_401(db, client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_healthz_is_public(db, client):
    assert client.get("/healthz").status_code == 200


def test_signup_is_closed(db, client):
    users_before = User.objects.count()
    page = client.get("/accounts/signup/")
    assert "account/signup_closed.html" in [template.name for template in page.templates]
    assert 'name="password1"' not in page.content.decode()

    response = client.post(
        "/accounts/signup/",
        {"email": "walk-in@test.example", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "account/signup_closed.html" in [template.name for template in response.templates]
    assert not User.objects.filter(email__iexact="walk-in@test.example").exists()
    assert User.objects.count() == users_before
    assert not _signed_in_user(client).is_authenticated


# --- Each role lands on its own home --------------------------------------------------------


@pytest.mark.parametrize(
    ("user_name", "heading"),
    [
        ("manager", "Program overview"),
        ("admin_a", "Alpha Partners"),
        ("rep_a", "Alpha Partners"),
        ("admin_b", "Beta Partners"),
        ("customer_user_a1", "A1 Corp"),
        ("customer_viewer_a1", "A1 Corp"),
        ("customer_user_b1", "B1 Corp"),
    ],
)
def test_each_role_lands_on_its_own_home(world, login, user_name, heading):
    response = login(getattr(world, user_name)).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"<h1>{heading}</h1>" in page
    others = {"Program overview", "Alpha Partners", "Beta Partners", "A1 Corp", "A2 Corp", "B1 Corp"} - {heading}
    assert not [other for other in others if f"<h1>{other}</h1>" in page]


def test_home_after_real_sign_in_shows_the_partner(world, client):
    _sign_in(client, world.admin_a.email, PASSWORD)
    response = client.get("/")
    assert response.status_code == 200
    assert "<h1>Alpha Partners</h1>" in response.content.decode()
