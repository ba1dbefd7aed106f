"""The channel managers' coverage view: target markets (industry × region) against the partners
selling there and their customers' consumption (computed by prm/operations/coverage.py)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from prm.operations.coverage import market_coverage


@login_required
def coverage(request):
    if not request.user.is_manager:
        raise PermissionDenied
    return render(request, "dashboards/coverage.html", {"coverage": market_coverage(), "title": "Market coverage"})
