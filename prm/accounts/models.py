"""Users (email is the login), their one membership and role, invitations and API keys."""

from functools import cached_property

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from prm.core.tenancy import NOBODY, Scope, ScopeKind, Tenancy, TenantQuerySet


class Role(models.TextChoices):
    MANAGER = "manager", "Channel manager"
    PARTNER_ADMIN = "partner_admin", "Partner admin"
    PARTNER_REP = "partner_rep", "Partner rep"
    CUSTOMER_ADMIN = "customer_admin", "Customer admin"
    CUSTOMER_VIEWER = "customer_viewer", "Customer viewer"


# Tuples, not sets: they appear in database constraints, whose migrations need a stable order.
PARTNER_ROLES = (Role.PARTNER_ADMIN, Role.PARTNER_REP)
CUSTOMER_ROLES = (Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER)


def role_matches_organisation() -> Q:
    """A manager belongs to no organisation, partner roles to a partner, customer roles to a customer."""
    return (
        Q(role=Role.MANAGER, partner__isnull=True, customer__isnull=True)
        | Q(role__in=PARTNER_ROLES, partner__isnull=False, customer__isnull=True)
        | Q(role__in=CUSTOMER_ROLES, partner__isnull=True, customer__isnull=False)
    )


class UserQuerySet(TenantQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("a user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    # Partner users see their partner's people and their customers' people; reps only the
    # people of the customers assigned to them; customer users their own colleagues.
    tenancy = Tenancy(
        partner=("membership__partner", "membership__customer__reseller"),
        customer="membership__customer",
        rep="membership__customer__assigned_rep",
    )
    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.full_name or self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @cached_property
    def membership_or_none(self):
        try:
            return self.membership
        except Membership.DoesNotExist:
            return None

    @property
    def role(self) -> str | None:
        if self.membership_or_none is not None:
            return self.membership_or_none.role
        # A superuser made with createsuperuser is vendor staff.
        return Role.MANAGER if self.is_superuser else None

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else "No role"

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_partner_user(self) -> bool:
        return self.role in PARTNER_ROLES

    @property
    def is_partner_admin(self) -> bool:
        return self.role == Role.PARTNER_ADMIN

    @property
    def is_partner_rep(self) -> bool:
        return self.role == Role.PARTNER_REP

    @property
    def is_customer_user(self) -> bool:
        return self.role in CUSTOMER_ROLES

    @property
    def is_customer_admin(self) -> bool:
        return self.role == Role.CUSTOMER_ADMIN

    @property
    def partner(self):
        membership = self.membership_or_none
        return membership.partner if membership else None

    @property
    def customer(self):
        membership = self.membership_or_none
        return membership.customer if membership else None

    @cached_property
    def scope(self) -> Scope:
        """The slice of tenant data this user may see (read by core's visible_to)."""
        role, membership = self.role, self.membership_or_none
        if role == Role.MANAGER:
            return Scope(ScopeKind.VENDOR)
        if role == Role.PARTNER_ADMIN:
            return Scope(ScopeKind.PARTNER, partner_id=membership.partner_id)
        if role == Role.PARTNER_REP:
            return Scope(ScopeKind.PARTNER, partner_id=membership.partner_id, rep_user_id=self.pk)
        if role in CUSTOMER_ROLES:
            return Scope(ScopeKind.CUSTOMER, customer_id=membership.customer_id)
        return NOBODY


class Membership(models.Model):
    """What a user belongs to: the vendor, one partner, or one customer."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    role = models.CharField(max_length=20, choices=Role.choices)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="membership_role_matches_organisation", condition=role_matches_organisation())
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()}"


class InvitationQuerySet(TenantQuerySet):
    def pending(self):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """A one-time, expiring link that creates a user with a given role. Only a hash is stored."""

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations_sent")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation_accepted"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    tenancy = Tenancy(partner=("partner", "customer__reseller"), customer="customer", rep="invited_by")
    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(name="invitation_role_matches_organisation", condition=role_matches_organisation())
        ]

    def __str__(self):
        return f"Invitation for {self.email} ({self.get_role_display()})"

    @property
    def organisation(self):
        return self.partner or self.customer

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiKey(models.Model):
    """A key acts as the user who made it, with that user's role and scope."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
