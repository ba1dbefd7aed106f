"""Channel managers must enrol in TOTP before anything else, whenever the policy is on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.urls import reverse

from tests.factories import PASSWORD

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mfa_required(settings):
    settings.PRM_MFA_REQUIRED_FOR_MANAGERS = True


@pytest.mark.parametrize("path", ["/", "/partners/", "/customers/", "/invitations/", "/settings/api-keys/"])
def test_manager_without_totp_is_sent_to_enrol(world, login, mfa_required, path):
    response = login(world.manager).get(path)
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")


def test_enrolment_pages_are_reachable_and_enrolment_lets_the_manager_in(world, client, mfa_required):
    response = client.post(reverse("account_login"), {"login": world.manager.email, "password": PASSWORD})
    assert response.status_code == 302

    # The portal sends the manager to the activation page; allauth asks for the password again
    # first (its own rule for adding an authenticator), and that page must not be blocked either.
    response = client.get(reverse("home"), follow=True)
    assert response.status_code == 200
    chain = [url for url, _status in response.redirect_chain]
    assert chain[0] == reverse("mfa_activate_totp")
    assert len(chain) == 2
    assert response.wsgi_request.path == reverse("account_reauthenticate")
    assert response.wsgi_request.user == world.manager

    response = client.post(
        reverse("account_reauthenticate") + "?next=" + reverse("mfa_activate_totp"), {"password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.wsgi_request.path == reverse("mfa_activate_totp")
    secret = response.context["form"].secret
    assert secret

    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    assert Authenticator.objects.filter(user=world.manager, type=Authenticator.Type.TOTP).exists()

    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "<h1>Program overview</h1>" in home.content.decode()


def test_enrolment_pages_are_exempt_from_the_policy(world, login, mfa_required):
    client = login(world.manager)
    # allauth's own rule (password again before adding an authenticator), not a loop to itself.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_reauthenticate"))
    assert client.get(response.url).status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200


def test_manager_api_call_with_session_is_forbidden_as_json(world, login, mfa_required):
    response = login(world.manager).get("/api/v1/partners/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert "two-factor" in response.json()["detail"]


@pytest.mark.parametrize("user_name", ["admin_a", "rep_a", "customer_user_a1", "customer_viewer_a1"])
def test_other_roles_are_not_sent_to_enrol(world, login, mfa_required, user_name):
    response = login(getattr(world, user_name)).get("/")
    assert response.status_code == 200


def test_anonymous_is_sent_to_sign_in_not_to_enrol(db, client, mfa_required):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_manager_with_totp_reaches_the_portal(world, login, mfa_required):
    client = login(world.manager)
    assert client.get("/").status_code == 302

    TOTP.activate(world.manager, generate_totp_secret())
    assert Authenticator.objects.filter(user=world.manager, type=Authenticator.Type.TOTP).count() == 1

    home = client.get("/")
    assert home.status_code == 200
    assert "<h1>Program overview</h1>" in home.content.decode()
    assert client.get("/partners/").status_code == 200
    assert client.get("/api/v1/partners/").status_code == 200


def test_recovery_codes_alone_do_not_count(world, login, mfa_required):
    # Only an authenticator app (TOTP) satisfies the policy.
    Authenticator.objects.create(
        user=world.manager, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00" * 20, "used_mask": 0}
    )
    response = login(world.manager).get("/")
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")


def test_policy_off_lets_manager_in_without_mfa(world, login, settings):
    settings.PRM_MFA_REQUIRED_FOR_MANAGERS = False
    client = login(world.manager)
    home = client.get("/")
    assert home.status_code == 200
    assert "<h1>Program overview</h1>" in home.content.decode()
    assert client.get("/api/v1/partners/").status_code == 200


# --- The production default -----------------------------------------------------------------


def _policy_with(**env_overrides: str | None) -> str:
    env = dict(os.environ)
    for name in ("DEBUG", "MFA_REQUIRED_FOR_MANAGERS", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    result = subprocess.run(
        [sys.executable, "-c", "import prm.settings as s; print(s.PRM_MFA_REQUIRED_FOR_MANAGERS)"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "0"}, "True"),
        ({}, "True"),  # DEBUG unset means production
        ({"DEBUG": "1"}, "False"),
        ({"DEBUG": "1", "MFA_REQUIRED_FOR_MANAGERS": "1"}, "True"),
        ({"DEBUG": "0", "MFA_REQUIRED_FOR_MANAGERS": "0"}, "False"),
    ],
)
def test_policy_default_follows_debug(env, expected):
    assert _policy_with(**env) == expected
