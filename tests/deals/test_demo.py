"""The demo's deals and MDF (prm/operations/demo_deals.py): every status, through the services, idempotent."""

from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.accounts.models import User
from prm.customers.models import Customer
from prm.deals.models import DealRegistration
from prm.incentives import mdf
from prm.incentives.models import MdfBudget, MdfRequest
from prm.operations import demo
from prm.operations.demo_deals import seed_deals
from tests.operations.conftest import three_days_of_usage  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("three_days_of_usage")]


def test_demo_deals_and_mdf_cover_every_status_and_seed_once():
    summary = demo.seed_demo(invoices=False)  # seed_demo runs seed_deals among the lifecycle's seeds
    first = summary.lifecycle.deals
    customers = Customer.objects.count()
    manager = User.objects.get(email="manager@demo.test")
    now = timezone.now()
    assert Counter(DealRegistration.objects.values_list("status", flat=True)) == {
        "submitted": 2, "approved": 1, "rejected": 1, "lost": 1, "won": 1,
    }  # fmt: skip
    # Maple Ridge's registration states its conflict with Eucalypt's protected one.
    rival = DealRegistration.objects.get(partner__website_domain="mapleridge-tech.ca")
    assert rival.has_conflicts and rival.conflicts[0]["status"] == "approved"
    # The won deal is the one behind a demo customer, not a customer of its own.
    won = DealRegistration.objects.get(status="won")
    assert won.customer.external_id == "cus_acme_robotics"
    assert not Customer.objects.filter(domain__in=DealRegistration.objects.exclude(status="won").values("domain"))
    assert all(deal.proposal for deal in DealRegistration.objects.all())
    assert set(MdfBudget.objects.values_list("period", flat=True)) == {mdf.quarter_of(now)}
    assert Counter(MdfRequest.objects.values_list("status", flat=True)) == {
        "requested": 1, "approved": 1, "rejected": 1, "claimed": 1, "paid": 1,
    }  # fmt: skip
    gold = MdfBudget.objects.get(tier__code="gold")
    # Committed: 5,400 paid (claimed under its 6,000) + 2,500 claimed + 9,000 approved = 16,900 of 25,000.
    assert mdf.budget_figures(gold).remaining == Decimal("8100")
    assert (first.deals, first.deals_created, first.mdf_requests, first.mdf_created) == (6, 6, 5, 5)
    second = seed_deals(actor=manager, now=now)
    assert (second.deals_created, second.mdf_created, second.budgets_created) == (0, 0, 0)
    assert DealRegistration.objects.count() == 6 and MdfRequest.objects.count() == 5
    assert Customer.objects.count() == customers
