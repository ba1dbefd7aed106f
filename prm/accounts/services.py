"""Writes of the accounts app: invitations and API keys."""

import hashlib
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from prm.accounts.models import CUSTOMER_ROLES, PARTNER_ROLES, ApiKey, Invitation, Membership, Role, User
from prm.core.audit import acting_as
from prm.customers.models import Customer
from prm.partners.models import Partner

# Who may invite whom. Channel managers run the program, so they may invite anyone; partner
# admins build their own team and their customers' teams; customer admins their colleagues.
INVITABLE_ROLES: dict[str, frozenset[str]] = {
    Role.MANAGER: frozenset(Role.values),
    Role.PARTNER_ADMIN: frozenset(PARTNER_ROLES + CUSTOMER_ROLES),
    Role.CUSTOMER_ADMIN: frozenset(CUSTOMER_ROLES),
}

# Refreshing last_used_at on every request would turn each API read into a write; a minute's
# precision is what a person checking "is this key still in use?" needs.
API_KEY_LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    # The secrets are 256-bit random, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def roles_invitable_by(user: User) -> list[str]:
    allowed = INVITABLE_ROLES.get(user.role, frozenset())
    return [role for role in Role.values if role in allowed]


def invitation_create(
    *, invited_by: User, email: str, role: str, partner=None, customer=None
) -> tuple[Invitation, str]:
    """Invite `email` to join with `role`; returns the invitation and its one-time token.

    The partner or customer must be one the inviter can see and act for: a partner admin
    invites into their own partner and its customers, a customer admin into their own customer.
    """
    email = User.objects.normalize_email(email or "").strip().lower()
    if role not in roles_invitable_by(invited_by):
        raise PermissionDenied("You may not invite people with this role.")

    errors: dict[str, str] = {}
    if role in PARTNER_ROLES:
        customer = None
        if partner is None:
            errors["partner"] = "Choose the partner this person will belong to."
        elif not Partner.objects.visible_to(invited_by).filter(pk=partner.pk).exists() or (
            invited_by.is_partner_user and partner.pk != invited_by.partner.pk
        ):
            errors["partner"] = "You cannot invite people to this partner."
    elif role in CUSTOMER_ROLES:
        partner = None
        if customer is None:
            errors["customer"] = "Choose the customer this person will belong to."
        elif not Customer.objects.visible_to(invited_by).filter(pk=customer.pk).exists():
            errors["customer"] = "You cannot invite people to this customer."
    else:
        partner = customer = None
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = "Someone with this email address already has an account."
    if errors:
        raise ValidationError(errors)

    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=email,
        role=role,
        partner=partner,
        customer=customer,
        invited_by=invited_by,
        token_hash=_digest(token),
        expires_at=timezone.now() + timedelta(days=settings.PRM_INVITATION_TTL_DAYS),
    )
    invitation.full_clean()
    # The inviter withdraws the earlier invitations too (not whoever sent those), on the page or not.
    with transaction.atomic(), acting_as(invited_by):
        # A new invitation replaces any still pending for the same address; saved one by one (there is
        # rarely more than one) so that each withdrawal is in the audit log.
        now = timezone.now()
        for pending in Invitation.objects.pending().filter(email__iexact=email).select_for_update():
            pending.revoked_at = now
            pending.save(update_fields=["revoked_at"])
        invitation.save()
        transaction.on_commit(lambda: _invitation_send(invitation, token))
    return invitation, token


def invitation_accept_url(token: str) -> str:
    return settings.PRM_SITE_URL.rstrip("/") + reverse("invitation_accept", args=[token])


def _invitation_send(invitation: Invitation, token: str) -> None:
    context = {
        "invitation": invitation,
        "accept_url": invitation_accept_url(token),
        "vendor_name": settings.PRM_VENDOR_NAME,
    }
    send_mail(
        subject=f"You are invited to the {settings.PRM_VENDOR_NAME} partner portal",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


class InvitationInvalid(Exception):
    """The link cannot be used; the message says why, in words for the person holding it."""


def invitation_for_token(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("partner", "customer").filter(token_hash=_digest(token)).first()
    if invitation is None:
        raise InvitationInvalid("This invitation link is not valid. Check that you copied all of it.")
    if invitation.accepted_at:
        raise InvitationInvalid("This invitation has already been used. Sign in instead.")
    if invitation.revoked_at:
        raise InvitationInvalid("This invitation was withdrawn. Ask for a new one.")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid("This invitation has expired. Ask for a new one.")
    return invitation


def invitation_accept(*, token: str, full_name: str, password: str) -> User:
    """Create the invited user with their role; the link works once, even under a double submit.

    The new person is the actor of what follows in the audit log (their user, membership, and the
    invitation accepted): they act through the link, not signed in yet."""
    user = User(full_name=full_name.strip())
    with transaction.atomic(), acting_as(user):
        invitation = invitation_for_token(token)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise InvitationInvalid("An account with this email address already exists. Sign in instead.")
        user.email = invitation.email
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password1": error.messages}) from None
        # Claim the invitation first: a second submit waits on this lock (on SQLite, on the immediate
        # transaction), then finds it accepted, so exactly one request wins.
        claimed = Invitation.objects.select_for_update().filter(pk=invitation.pk, accepted_at__isnull=True).first()
        if claimed is None:
            raise InvitationInvalid("This invitation has already been used. Sign in instead.")
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        Membership.objects.create(
            user=user, role=invitation.role, partner=invitation.partner, customer=invitation.customer
        )
        # The invitation reached this address, so it is verified.
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        claimed.accepted_at = timezone.now()
        claimed.accepted_user = user
        claimed.save(update_fields=["accepted_at", "accepted_user"])
    return user


def invitation_revoke(*, actor: User, invitation: Invitation) -> None:
    with transaction.atomic():
        invitation = Invitation.objects.locked_for(actor, invitation.pk)
        if actor.role not in INVITABLE_ROLES:
            raise PermissionDenied("You may not withdraw invitations.")
        if invitation.accepted_at is None and invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])


def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """Create a key for `user`; the secret is returned once and only its hash is kept."""
    prefix = secrets.token_hex(4)
    secret = f"prm_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(user=user, name=(name or "").strip(), prefix=f"prm_{prefix}", key_hash=_digest(secret))
    api_key.full_clean()
    api_key.save()
    return api_key, secret


def api_key_authenticate(secret: str) -> ApiKey | None:
    """The active key with this secret, its user loaded with their membership; None otherwise."""
    api_key = (
        ApiKey.objects.select_related("user__membership")
        .filter(key_hash=_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_LAST_USED_PRECISION:
        # update(), not save(): on the request path, and last_used_at is bookkeeping the audit log excludes.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, actor: User, api_key: ApiKey) -> None:
    """Revoke the key (once: revoking a revoked key changes nothing); audited with `actor` as who did it."""
    if api_key.user_id != actor.pk and not actor.is_manager:
        raise PermissionDenied("You may revoke only your own keys.")
    with transaction.atomic(), acting_as(actor):
        active = ApiKey.objects.select_for_update().filter(pk=api_key.pk, revoked_at__isnull=True).first()
        if active is not None:
            active.revoked_at = timezone.now()
            active.save(update_fields=["revoked_at"])
