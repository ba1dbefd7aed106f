"""IDOR on the API's detail actions: the generic cross-tenant test (tests/core/test_cross_tenant.py) walks
every route's list, retrieve and update; this walks every *extra* detail action of every router route
(`statements/{id}/approve/`, `webhooks/{id}/ping/` …), with each of its HTTP methods, as a user of
partner A, a rep and a customer against partner B's objects: each answers 404 and changes nothing."""

import re

import pytest
from django.urls import reverse

from prm.api_urls import router
from prm.deals.models import DealRegistration
from prm.incentives.models import MdfRequest, Statement
from prm.notifications.models import WebhookDelivery
from prm.partners.models import TierEvaluation
from tests.core.test_cross_tenant import API_ROUTES, _owned_by_b


def _detail_actions():
    """(basename, url name, methods) of every extra action on one object, read from the router."""
    for _prefix, viewset, basename in router.registry:
        for action in viewset.get_extra_actions():
            if action.detail:
                extra = re.findall(r"\(\?P<(\w+)>", action.url_path)  # deliveries/{delivery_id}/resend
                yield basename, f"{basename}-{action.url_name}", sorted(action.mapping), extra


def test_the_walk_finds_the_detail_actions():
    names = {name for _basename, name, _methods, _extra in _detail_actions()}
    assert {"statement-approve", "mdf-request-approve", "deal-approve", "tier-evaluation-confirm"} <= names


@pytest.mark.django_db
def test_every_detail_action_answers_404_across_tenants(world, client):
    owned = _owned_by_b(world)
    before = {
        model: (model.objects.filter(pk=owned[model].pk).values().get())
        for model in (Statement, MdfRequest, DealRegistration, TierEvaluation)
    }
    deliveries = WebhookDelivery.objects.count()
    walked = set()
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for basename, name, methods, extra in _detail_actions():
            model = API_ROUTES[basename]
            if model is None or model not in owned:
                continue
            # B's own delivery for a nested id: the outer object decides, and it is not A's to find.
            kwargs = {"pk": owned[model].pk, **dict.fromkeys(extra, owned[WebhookDelivery].pk)}
            url = reverse(name, kwargs=kwargs)
            for method in methods:
                if method in ("options", "head"):
                    continue
                response = getattr(client, method)(url, {}, content_type="application/json")
                assert response.status_code == 404, (user.email, name, method, response.status_code)
                walked.add(name)
    assert len(walked) >= 10, sorted(walked)
    for model, row in before.items():
        assert model.objects.filter(pk=row["id"]).values().get() == row, model
    assert WebhookDelivery.objects.count() == deliveries  # no ping was sent to B's endpoint
