from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from prm.customers.models import Customer
from prm.dashboards import selectors
from prm.partners.models import Partner


@login_required
def home(request):
    """Each role lands here and sees its own figures (the full dashboards come later)."""
    user = request.user
    context = {"counts": selectors.home_counts(user), "customers_by_use_case": selectors.customers_by_use_case(user)}
    if user.is_manager:
        context["partners_by_stage"] = selectors.partners_by_stage(user)
        context["partners_by_tier"] = selectors.partners_by_tier(user)
        context["recent_partners"] = Partner.objects.visible_to(user).select_related("tier").order_by("-created_at")[:6]
        template = "dashboards/home_manager.html"
    elif user.is_partner_user:
        context["partner"] = user.partner
        context["recent_customers"] = (
            Customer.objects.visible_to(user).select_related("assigned_rep").order_by("-created_at")[:8]
        )
        template = "dashboards/home_partner.html"
    elif user.is_customer_user:
        context["customer"] = Customer.objects.visible_to(user).select_related("reseller").first()
        template = "dashboards/home_customer.html"
    else:
        template = "dashboards/home_none.html"
    return render(request, template, context)
