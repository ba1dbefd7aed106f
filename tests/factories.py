"""Factories for the tests: rows made the way the portal makes them (services where they exist)."""

import factory
from allauth.account.models import EmailAddress

from prm.accounts.models import Membership, Role, User
from prm.customers.models import Customer, UseCase
from prm.partners.models import Partner, Stage, Tier

PASSWORD = "correct horse battery staple 42"


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"tier-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    rank = factory.Sequence(lambda n: n + 1)


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    website_domain = factory.Sequence(lambda n: f"partner{n}.example.com")
    country = "US"
    tier = factory.SubFactory(TierFactory)
    stage = Stage.SELL


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    reseller = factory.SubFactory(PartnerFactory)
    external_id = factory.Sequence(lambda n: f"cus_{n}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    domain = factory.Sequence(lambda n: f"customer{n}.example.org")
    use_case = UseCase.API_CALLS
    currency = "USD"


def make_user(role: str | None, *, partner=None, customer=None, email=None, password=PASSWORD, **fields) -> User:
    """A user with a verified email and (unless role is None) one membership."""
    email = email or f"{role or 'nobody'}-{User.objects.count() + 1}@test.example"
    user = User.objects.create_user(email, password, **fields)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    if role is not None:
        Membership.objects.create(user=user, role=role, partner=partner, customer=customer)
    return User.objects.get(pk=user.pk)  # fresh instance: no cached membership or scope


def manager(**fields) -> User:
    return make_user(Role.MANAGER, **fields)


def partner_admin(partner, **fields) -> User:
    return make_user(Role.PARTNER_ADMIN, partner=partner, **fields)


def partner_rep(partner, **fields) -> User:
    return make_user(Role.PARTNER_REP, partner=partner, **fields)


def customer_admin(customer, **fields) -> User:
    return make_user(Role.CUSTOMER_ADMIN, customer=customer, **fields)


def customer_viewer(customer, **fields) -> User:
    return make_user(Role.CUSTOMER_VIEWER, customer=customer, **fields)
