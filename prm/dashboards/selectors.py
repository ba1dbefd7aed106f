"""Figures for the role home pages, aggregated in the database from scoped querysets."""

from django.db.models import Count, Q

from prm.accounts.models import Invitation, User
from prm.customers.models import Customer, UseCase
from prm.partners.models import Partner, Stage, Tier


def partners_by_stage(user) -> list[dict]:
    counts = dict(
        Partner.objects.visible_to(user)
        .order_by()
        .values_list("stage")
        .annotate(n=Count("pk"))
        .values_list("stage", "n")
    )
    return [{"stage": stage, "label": label, "count": counts.get(stage, 0)} for stage, label in Stage.choices]


def partners_by_tier(user) -> list[dict]:
    counts = dict(
        Partner.objects.visible_to(user).order_by().values_list("tier").annotate(n=Count("pk")).values_list("tier", "n")
    )
    return [{"tier": tier, "count": counts.get(tier.pk, 0)} for tier in Tier.objects.all()]


def customers_by_use_case(user) -> list[dict]:
    counts = dict(
        Customer.objects.visible_to(user)
        .order_by()
        .values_list("use_case")
        .annotate(n=Count("pk"))
        .values_list("use_case", "n")
    )
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
