"""Figures for the role home pages, aggregated in the database from scoped querysets."""

from django.db.models import Count, Q

from prm.accounts.models import Invitation, User
from prm.customers.models import Customer, UseCase
from prm.partners.models import Partner, Stage, Tier


def count_by(queryset, field: str) -> dict:
    """{value of `field`: number of rows}, grouped in the database."""
    return dict(queryset.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))


def partners_by_stage(user) -> list[dict]:
    counts = count_by(Partner.objects.visible_to(user), "stage")
    return [{"stage": stage, "label": label, "count": counts.get(stage, 0)} for stage, label in Stage.choices]


def partners_by_tier(user) -> list[dict]:
    counts = count_by(Partner.objects.visible_to(user), "tier")
    return [{"tier": tier, "count": counts.get(tier.pk, 0)} for tier in Tier.objects.all()]


def customers_by_use_case(user) -> list[dict]:
    counts = count_by(Customer.objects.visible_to(user), "use_case")
    return [{"use_case": code, "label": label, "count": counts.get(code, 0)} for code, label in UseCase.choices]


def home_counts(user) -> dict:
    customers = Customer.objects.visible_to(user).aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(is_active=True))
    )
    return {
        "partners": Partner.objects.visible_to(user).count(),
        "customers": customers["total"],
        "active_customers": customers["active"],
        "people": User.objects.visible_to(user).count(),
        "pending_invitations": Invitation.objects.visible_to(user).pending().count(),
    }
