"""The landing page: each role's dashboard (dashboards/customer.py, partner.py, manager.py).

Each module's `context(request)` composes the apps' selectors into figures, tables and plotly
charts, reading from rollups and ledgers in a number of queries that does not grow with the
number of customers (pinned by tests/dashboards/).
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from prm.dashboards import customer, manager, partner


@login_required
def home(request):
    user = request.user
    # A dashboard's tables export as CSV (?export=csv): the export answers instead of the page.
    if user.is_manager:
        return manager.export(request) or render(request, "dashboards/home_manager.html", manager.context(request))
    if user.is_partner_user:
        return partner.export(request) or render(request, "dashboards/home_partner.html", partner.context(request))
    if user.is_customer_user:
        return render(request, "dashboards/home_customer.html", customer.context(request))
    return render(request, "dashboards/home_none.html", {})
