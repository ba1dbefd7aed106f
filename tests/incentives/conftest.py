"""Incentives tests reuse billing's set-up (a catalogue made through the plan services, usage
through ingestion, subscriptions through their service) and add what rules need."""

import pytest

from prm.incentives.rules import commission_rule_create
from prm.plans.services import plan_create
from tests.billing.conftest import Catalogue, catalogue, make_plan, send, subscribe  # noqa: F401


@pytest.fixture
def named_plan(world, catalogue):  # noqa: F811 (the fixture imported above)
    """A USD plan with a name of its own ("API Growth"), as explanations quote it."""

    def _named_plan(code, name, charges, minimum_commitment=None):
        return plan_create(
            actor=world.manager, code=code, name=name, currency="USD", charges=charges,
            minimum_commitment=minimum_commitment,
        )  # fmt: skip

    return _named_plan


@pytest.fixture
def rule(world):
    """rule(kind, code=…, **fields): a rule made through the service by the manager, in force from January 2026."""

    def _rule(kind, code=None, **fields):
        fields.setdefault("name", (code or kind).replace("-", " ").replace("_", " ").capitalize())
        fields.setdefault("effective_from", "2026-01")
        return commission_rule_create(actor=world.manager, code=code or kind.replace("_", "-"), kind=kind, **fields)

    return _rule
