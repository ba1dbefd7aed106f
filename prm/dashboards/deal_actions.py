"""The portal's "mark won" form of a deal page.

Marking a deal won creates a customer and its subscription, a flow across apps that lives in
prm/operations/deal_conversion.py; the deals app may not import operations, dashboards may. This
view writes nothing itself: it checks the form and hands it to the flow, like the API's
prm/operations/api.py does.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from prm.core.views import add_errors, report_form_errors
from prm.deals.forms import WonForm
from prm.deals.models import DealRegistration
from prm.operations.deal_conversion import deal_convert


@require_POST
@login_required
def deal_won(request, pk):
    deal = get_object_or_404(DealRegistration.objects.visible_to(request.user), pk=pk)
    form = WonForm(request.POST, prefix="won")
    if form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
        try:
            deal = deal_convert(actor=request.user, deal=deal, **fields)
            messages.success(
                request,
                f"Won: {deal.company} is customer {deal.customer.external_id}, subscribed to {deal.plan.name} "
                f"({deal.subscription.external_id}).",
            )
            return redirect(deal)
        except ValidationError as error:
            add_errors(form, error)
    report_form_errors(request, form)
    return redirect(deal)
