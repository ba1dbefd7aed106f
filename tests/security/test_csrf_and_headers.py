"""CSRF on every form, the security headers, and `check --deploy` under production settings."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from prm.accounts.services import api_key_create
from tests.core.test_cross_tenant import CREATE_URLS, LIST_URLS, MANAGER_ACTIONS, OBJECT_URLS, OWN_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)


def _csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _all_post_urls():
    urls = [reverse(name, args=[1]) for name in OBJECT_URLS]
    urls += [reverse(name) for name in CREATE_URLS + MANAGER_ACTIONS + OWN_ACTIONS + LIST_URLS]
    urls += [reverse("partner_apply"), reverse("invitation_accept", args=["x" * 40]), reverse("account_login")]
    return urls


@pytest.mark.django_db
def test_every_portal_form_refuses_a_post_without_csrf_token(world):
    """Every URL of the portal, as a signed-in manager and anonymously: a POST with no token is refused
    by the CSRF check before any view runs (so no view is csrf_exempt)."""
    urls = _all_post_urls()
    assert len(urls) > 100
    for client in (_csrf_client(world.manager), _csrf_client()):
        for url in urls:
            response = client.post(url, {"name": "x"})
            assert response.status_code == 403, (url, response.status_code)
            assert b"CSRF" in response.content, url


@pytest.mark.django_db
def test_every_rendered_post_form_carries_the_token(world):
    client = _csrf_client(world.manager)
    forms = 0
    for name in LIST_URLS + CREATE_URLS:
        body = client.get(reverse(name)).content.decode()
        for form in POST_FORM.findall(body):
            forms += 1
            assert 'name="csrfmiddlewaretoken"' in form, name
    assert forms >= len(CREATE_URLS)
    # The token makes the same POST pass the check (a form error or a redirect, not the CSRF 403).
    client.get(reverse("partner_create"))
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("partner_create"), {"csrfmiddlewaretoken": token, "name": ""})
    assert response.status_code == 200 and b"CSRF" not in response.content


@pytest.mark.django_db
def test_the_api_enforces_csrf_on_sessions_not_on_keys(world):
    client = _csrf_client(world.manager)
    response = client.post("/api/v1/target-markets/", {}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    _key, secret = api_key_create(user=world.manager, name="ci")
    keyed = Client(enforce_csrf_checks=True)
    response = keyed.post(
        "/api/v1/target-markets/", {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 400  # validation, past the CSRF check: a bearer key is not ambient


@pytest.mark.django_db
def test_security_headers_on_pages_api_and_docs(client, world):
    anonymous = client.get(reverse("account_login"), secure=True)
    assert anonymous.status_code == 200 and "script-src 'self'" in anonymous["Content-Security-Policy"]
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    for url in (reverse("home"), "/api/v1/partners/", reverse("api_docs")):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        directives = dict(part.split(" ", 1) for part in policy.split("; "))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'", url
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'", url
        assert "unsafe-eval" not in policy and "http" not in policy, url  # nothing from another host
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    # Only the API docs may use inline styles (drf-spectacular's template); pages may not.
    assert "unsafe-inline" not in client.get(reverse("home"))["Content-Security-Policy"]
    docs = client.get(reverse("api_docs"))
    assert "'unsafe-inline'" in dict(p.split(" ", 1) for p in docs["Content-Security-Policy"].split("; "))["style-src"]
    assert "<script>" not in docs.content.decode()  # the init script is its own request
    script = client.get(reverse("api_docs"), {"script": ""})
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    for sidecar in re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.content.decode()):
        assert "drf_spectacular_sidecar" in sidecar  # local assets, never a CDN


@pytest.mark.django_db
def test_cookies_are_secure_under_production_settings(client, world, settings):
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE and settings.SESSION_COOKIE_HTTPONLY
    client.get(reverse("account_login"), secure=True)
    csrf = client.cookies["csrftoken"]
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("home"), secure=True)
    assert response.status_code == 200


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "deploy-check-" + "k" * 60,
        "ALLOWED_HOSTS": "portal.example.com",
        "DJANGO_SETTINGS_MODULE": "prm.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
