"""Invitations: a one-time, expiring link that creates a user with a given role.

The portal page, the email, the accept page, and the service's rules of who may invite whom.
"""

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prm.accounts import services
from prm.accounts.models import Invitation, Role, User
from tests.factories import PASSWORD

NEW_PASSWORD = "a long and unusual passphrase 7"
ACCEPT_LINK = re.compile(r"https?://\S+/invitations/accept/(?P<token>[^/\s]+)/")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _invite(invited_by, email, role, **org):
    invitation, token = services.invitation_create(invited_by=invited_by, email=email, role=role, **org)
    return invitation, token


def _accept_url(token: str) -> str:
    return reverse("invitation_accept", args=[token])


def _accept(client, token, password=NEW_PASSWORD, full_name="New Person"):
    return client.post(_accept_url(token), {"full_name": full_name, "password1": password, "password2": password})


# --- The whole journey: invite on the portal, email, accept, sign in -------------------------


def test_manager_invites_partner_admin_who_accepts_and_signs_in(world, login, django_capture_on_commit_callbacks):
    client = login(world.manager)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("invitation_create"),
            {"email": "New.Admin@Alpha.example.com", "role": Role.PARTNER_ADMIN, "partner": world.partner_a.pk},
        )
    assert response.status_code == 302
    assert response.url == reverse("invitation_list")
    assert len(callbacks) == 1  # the email goes out only once the invitation is committed

    invitation = Invitation.objects.get()
    assert invitation.email == "new.admin@alpha.example.com"
    assert invitation.role == Role.PARTNER_ADMIN
    assert invitation.partner == world.partner_a
    assert invitation.customer is None
    assert invitation.invited_by == world.manager
    assert invitation.status == "pending"

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["new.admin@alpha.example.com"]
    match = ACCEPT_LINK.search(email.body)
    assert match, email.body
    token = match["token"]
    assert "Alpha Partners" in email.body

    # Only a sha256 of the token is kept; the token itself is in no column.
    assert invitation.token_hash == _sha256(token)
    row = Invitation.objects.filter(pk=invitation.pk).values().get()
    assert not [column for column, value in row.items() if token in str(value)]

    # The link from the email opens the form.
    anonymous = Client()
    link_path = urlparse(match.group(0)).path
    assert link_path == _accept_url(token)
    page = anonymous.get(link_path)
    assert page.status_code == 200
    assert 'name="password1"' in page.content.decode()
    assert "new.admin@alpha.example.com" in page.content.decode()

    response = _accept(anonymous, token, full_name="Nora Admin")
    assert response.status_code == 302
    assert response.url == reverse("home")

    user = User.objects.get(email="new.admin@alpha.example.com")
    assert user.full_name == "Nora Admin"
    assert user.role == Role.PARTNER_ADMIN
    assert user.partner == world.partner_a
    assert user.customer is None
    assert user.check_password(NEW_PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (user.email, True, True)

    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert invitation.accepted_user == user
    assert invitation.status == "accepted"

    # The accepting browser is signed in as the new user.
    home = anonymous.get(reverse("home"))
    assert home.status_code == 200
    assert home.wsgi_request.user == user
    assert "<h1>Alpha Partners</h1>" in home.content.decode()

    # And the password works on the sign-in page from another browser.
    fresh = Client()
    signed_in = fresh.post(reverse("account_login"), {"login": user.email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in.url == reverse("home")
    assert fresh.get(reverse("home")).wsgi_request.user == user


# --- Links that cannot be used --------------------------------------------------------------


def test_link_works_only_once(world, client):
    _invitation, token = _invite(world.manager, "once@test.example", Role.PARTNER_REP, partner=world.partner_a)
    assert _accept(client, token).status_code == 302

    again = Client()
    for response in (again.get(_accept_url(token)), _accept(again, token, full_name="Someone Else")):
        assert response.status_code == 410
        assert "already been used" in response.content.decode()
    assert User.objects.filter(email="once@test.example").count() == 1
    assert User.objects.get(email="once@test.example").full_name == "New Person"


def test_tampered_token_is_not_valid(world, client):
    _invitation, token = _invite(world.manager, "tamper@test.example", Role.PARTNER_REP, partner=world.partner_a)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    for response in (client.get(_accept_url(tampered)), _accept(client, tampered)):
        assert response.status_code == 410
        assert "not valid" in response.content.decode()
    assert not User.objects.filter(email="tamper@test.example").exists()
    # The real link still works.
    assert client.get(_accept_url(token)).status_code == 200


def test_expired_invitation_is_refused(world, client):
    invitation, token = _invite(world.manager, "late@test.example", Role.PARTNER_REP, partner=world.partner_a)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    for response in (client.get(_accept_url(token)), _accept(client, token)):
        assert response.status_code == 410
        assert "expired" in response.content.decode()
    assert not User.objects.filter(email="late@test.example").exists()


def test_revoked_invitation_is_refused(world, client):
    invitation, token = _invite(world.manager, "gone@test.example", Role.PARTNER_REP, partner=world.partner_a)
    services.invitation_revoke(actor=world.manager, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.status == "revoked"

    for response in (client.get(_accept_url(token)), _accept(client, token)):
        assert response.status_code == 410
        assert "withdrawn" in response.content.decode()
    assert not User.objects.filter(email="gone@test.example").exists()


def test_weak_password_is_refused_and_link_stays_usable(world, client):
    invitation, token = _invite(world.manager, "weak@test.example", Role.PARTNER_REP, partner=world.partner_a)

    response = _accept(client, token, password="123")
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors.get("password1"), form.errors
    assert not User.objects.filter(email="weak@test.example").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert invitation.status == "pending"

    assert client.get(_accept_url(token)).status_code == 200
    assert _accept(client, token).status_code == 302
    assert User.objects.get(email="weak@test.example").role == Role.PARTNER_REP


def test_mismatched_passwords_are_refused(world, client):
    _invitation, token = _invite(world.manager, "typo@test.example", Role.PARTNER_REP, partner=world.partner_a)
    response = client.post(
        _accept_url(token), {"full_name": "Typo", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors.get("password2")
    assert not User.objects.filter(email="typo@test.example").exists()


# --- Who may invite whom (the service) ------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_REP])
def test_partner_admin_invites_own_partner_team(world, role):
    invitation, _token = _invite(world.admin_a, "teammate@test.example", role, partner=world.partner_a)
    assert (invitation.role, invitation.partner, invitation.customer) == (role, world.partner_a, None)


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER])
@pytest.mark.parametrize("customer_name", ["customer_a1", "customer_a2"])
def test_partner_admin_invites_own_customers_people(world, role, customer_name):
    customer = getattr(world, customer_name)
    invitation, _token = _invite(world.admin_a, "client@test.example", role, customer=customer)
    assert (invitation.role, invitation.partner, invitation.customer) == (role, None, customer)


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_REP])
def test_partner_admin_cannot_invite_into_another_partner(world, role):
    with pytest.raises(ValidationError) as error:
        _invite(world.admin_a, "intruder@test.example", role, partner=world.partner_b)
    assert "partner" in error.value.message_dict
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER])
def test_partner_admin_cannot_invite_to_another_partners_customer(world, role):
    with pytest.raises(ValidationError) as error:
        _invite(world.admin_a, "intruder@test.example", role, customer=world.customer_b1)
    assert "customer" in error.value.message_dict
    assert not Invitation.objects.exists()


def test_partner_admin_cannot_invite_a_manager(world):
    with pytest.raises(PermissionDenied):
        _invite(world.admin_a, "boss@test.example", Role.MANAGER)
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("role", "org"),
    [
        (Role.PARTNER_REP, "partner_a"),
        (Role.PARTNER_ADMIN, "partner_a"),
        (Role.CUSTOMER_VIEWER, "customer_a1"),
        (Role.CUSTOMER_ADMIN, "customer_a1"),
        (Role.MANAGER, None),
    ],
)
def test_partner_rep_cannot_invite(world, role, org):
    kwargs = {}
    if org == "partner_a":
        kwargs["partner"] = world.partner_a
    elif org:
        kwargs["customer"] = world.customer_a1
    with pytest.raises(PermissionDenied):
        _invite(world.rep_a, "someone@test.example", role, **kwargs)
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.CUSTOMER_VIEWER, Role.CUSTOMER_ADMIN])
def test_customer_admin_invites_colleagues(world, role):
    invitation, _token = _invite(world.customer_user_a1, "colleague@test.example", role, customer=world.customer_a1)
    assert (invitation.role, invitation.customer, invitation.partner) == (role, world.customer_a1, None)


@pytest.mark.parametrize("customer_name", ["customer_a2", "customer_b1"])
def test_customer_admin_cannot_invite_to_another_customer(world, customer_name):
    with pytest.raises(ValidationError) as error:
        _invite(world.customer_user_a1, "x@test.example", Role.CUSTOMER_VIEWER, customer=getattr(world, customer_name))
    assert "customer" in error.value.message_dict
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.PARTNER_REP, Role.PARTNER_ADMIN])
def test_customer_admin_cannot_invite_partner_people(world, role):
    with pytest.raises(PermissionDenied):
        _invite(world.customer_user_a1, "x@test.example", role, partner=world.partner_a)


@pytest.mark.parametrize("role", [Role.CUSTOMER_VIEWER, Role.CUSTOMER_ADMIN])
def test_customer_viewer_cannot_invite(world, role):
    with pytest.raises(PermissionDenied):
        _invite(world.customer_viewer_a1, "x@test.example", role, customer=world.customer_a1)
    assert not Invitation.objects.exists()


def test_manager_may_invite_a_manager(world):
    invitation, _token = _invite(world.manager, "colleague@vendor.example", Role.MANAGER)
    assert (invitation.role, invitation.partner, invitation.customer) == (Role.MANAGER, None, None)


@pytest.mark.parametrize(
    ("user_name", "expected"),
    [
        ("manager", set(Role.values)),
        ("admin_a", {Role.PARTNER_ADMIN, Role.PARTNER_REP, Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER}),
        ("rep_a", set()),
        ("customer_user_a1", {Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER}),
        ("customer_viewer_a1", set()),
    ],
)
def test_roles_invitable_by(world, user_name, expected):
    assert set(services.roles_invitable_by(getattr(world, user_name))) == expected


@pytest.mark.parametrize("user_name", ["rep_a", "customer_viewer_a1"])
def test_invite_page_is_forbidden_to_those_who_cannot_invite(world, login, user_name):
    client = login(getattr(world, user_name))
    assert client.get(reverse("invitation_create")).status_code == 403


def test_invite_page_does_not_offer_another_partner(world, login):
    client = login(world.admin_a)
    response = client.post(
        reverse("invitation_create"),
        {"email": "intruder@test.example", "role": Role.PARTNER_REP, "partner": world.partner_b.pk},
    )
    assert response.status_code == 200
    assert response.context["form"].errors.get("partner")
    assert not Invitation.objects.exists()


# --- Addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["rep-b@test.example", "REP-B@Test.Example"])
def test_existing_account_cannot_be_invited(world, email):
    with pytest.raises(ValidationError) as error:
        _invite(world.manager, email, Role.PARTNER_REP, partner=world.partner_a)
    assert "email" in error.value.message_dict
    assert not Invitation.objects.exists()


def test_reinviting_revokes_the_pending_invitation(world, client):
    first, first_token = _invite(world.manager, "twice@test.example", Role.PARTNER_REP, partner=world.partner_a)
    second, second_token = _invite(world.admin_a, "Twice@Test.example", Role.PARTNER_ADMIN, partner=world.partner_a)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "revoked"
    assert second.status == "pending"
    assert list(Invitation.objects.pending().filter(email="twice@test.example")) == [second]

    assert client.get(_accept_url(first_token)).status_code == 410
    assert _accept(client, second_token).status_code == 302
    assert User.objects.get(email="twice@test.example").role == Role.PARTNER_ADMIN


# --- The list page is scoped ----------------------------------------------------------------


def test_invitation_list_shows_only_own_partners_invitations(world, login):
    _invite(world.manager, "for-alpha@test.example", Role.PARTNER_REP, partner=world.partner_a)
    _invite(world.manager, "for-alpha-customer@test.example", Role.CUSTOMER_VIEWER, customer=world.customer_a2)
    _invite(world.manager, "for-beta@test.example", Role.PARTNER_REP, partner=world.partner_b)
    _invite(world.manager, "for-beta-customer@test.example", Role.CUSTOMER_VIEWER, customer=world.customer_b1)

    page = login(world.admin_a).get(reverse("invitation_list")).content.decode()
    assert "for-alpha@test.example" in page
    assert "for-alpha-customer@test.example" in page
    assert "for-beta@test.example" not in page
    assert "for-beta-customer@test.example" not in page


def test_manager_sees_every_invitation(world, login):
    _invite(world.admin_a, "for-alpha@test.example", Role.PARTNER_REP, partner=world.partner_a)
    _invite(world.admin_b, "for-beta@test.example", Role.PARTNER_REP, partner=world.partner_b)

    page = login(world.manager).get(reverse("invitation_list")).content.decode()
    assert "for-alpha@test.example" in page
    assert "for-beta@test.example" in page


def test_revoking_another_partners_invitation_is_not_found(world, login):
    invitation, _token = _invite(world.admin_b, "for-beta@test.example", Role.PARTNER_REP, partner=world.partner_b)

    response = login(world.admin_a).post(reverse("invitation_revoke", args=[invitation.pk]))
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_partner_admin_revokes_own_invitation(world, login):
    invitation, token = _invite(world.admin_a, "for-alpha@test.example", Role.PARTNER_REP, partner=world.partner_a)

    response = login(world.admin_a).post(reverse("invitation_revoke", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert Client().get(_accept_url(token)).status_code == 410


def test_password_of_existing_user_is_untouched_by_invite_attempt(world):
    # The refused invitation (address taken) must not change the existing account.
    with pytest.raises(ValidationError):
        _invite(world.manager, world.rep_b.email, Role.PARTNER_ADMIN, partner=world.partner_a)
    world.rep_b.refresh_from_db()
    assert world.rep_b.check_password(PASSWORD)
    assert User.objects.get(pk=world.rep_b.pk).role == Role.PARTNER_REP
