"""Webhook endpoints in the portal: list, register (the secret shown once), detail with the delivery
log, ping, re-send, rotate the secret, deactivate. Managers and partner admins only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView
from prm.notifications import webhooks
from prm.notifications.filtersets import WebhookEndpointFilterSet
from prm.notifications.forms import WebhookEndpointForm
from prm.notifications.kinds import WEBHOOK_EVENT_TYPES
from prm.notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from prm.notifications.tables import WebhookEndpointTable


def _secret_key(pk: int) -> str:
    return f"webhook-secret-{pk}"


def _show_secret_once(request, endpoint) -> None:
    """The next view of the endpoint's page shows the secret, and then never again."""
    request.session[_secret_key(endpoint.pk)] = endpoint.secret


class _ManagersAndPartnerAdmins:
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not webhooks.can_manage_webhooks(request.user):
            raise PermissionDenied("Webhooks are managed by channel managers and partner admins.")
        return super().dispatch(request, *args, **kwargs)


class WebhookEndpointListView(_ManagersAndPartnerAdmins, ObjectListView):
    model = WebhookEndpoint
    table_class = WebhookEndpointTable
    filterset_class = WebhookEndpointFilterSet
    select_related = ("partner",)
    create_url_name = "webhook_create"
    template_name = "notifications/webhook_list.html"
    title = "Webhooks"

    def can_create(self):
        return webhooks.can_manage_webhooks(self.request.user)

    def get_table_kwargs(self):
        return {"exclude": ()} if self.request.user.is_manager else {"exclude": ("partner",)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(event_types=WEBHOOK_EVENT_TYPES, **kwargs)


class WebhookEndpointCreateView(ObjectCreateView):
    model = WebhookEndpoint
    form_class = WebhookEndpointForm

    def can_create(self):
        return webhooks.can_manage_webhooks(self.request.user)

    def save(self, form):
        data = form.cleaned_data
        return webhooks.webhook_endpoint_create(
            actor=self.request.user, url=data["url"], event_types=data["event_types"],
            description=data["description"], partner=data.get("partner"),
        )  # fmt: skip

    def form_valid(self, form):
        response = super().form_valid(form)
        if isinstance(response, HttpResponseRedirect):
            _show_secret_once(self.request, self.object)
        return response


class WebhookEndpointEditView(ObjectEditView):
    model = WebhookEndpoint
    form_class = WebhookEndpointForm

    def can_edit(self, obj):
        return webhooks.can_change_webhook(self.request.user, obj)

    def save(self, form):
        data = form.cleaned_data
        return webhooks.webhook_endpoint_update(
            actor=self.request.user, endpoint=self.object, url=data["url"], event_types=data["event_types"],
            description=data["description"], is_active=data["is_active"],
        )  # fmt: skip


class WebhookEndpointDetailView(ObjectDetailView):
    model = WebhookEndpoint
    select_related = ("partner", "created_by")
    template_name = "notifications/webhook_detail.html"

    def get_context_data(self, **kwargs):
        endpoint = self.object
        deliveries = endpoint.deliveries.all()
        status = self.request.GET.get("status")
        if status in DeliveryStatus.values:
            deliveries = deliveries.filter(status=status)
        page = Paginator(deliveries, 25).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            # Popped: shown on this one view only.
            secret=self.request.session.pop(_secret_key(endpoint.pk), None),
            can_change=webhooks.can_change_webhook(self.request.user, endpoint),
            page=page,
            status=status,
            statuses=DeliveryStatus.choices,
            **kwargs,
        )


def _endpoint_action(service, done):
    """A POST from the endpoint's page: run the service, report back there."""

    @require_POST
    @login_required
    def view(request, pk):
        endpoint = get_object_or_404(WebhookEndpoint.objects.visible_to(request.user), pk=pk)
        try:
            result = service(actor=request.user, endpoint=endpoint)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            done(request, result)
        return redirect(endpoint)

    return view


def _pinged(request, delivery):
    if delivery.status == DeliveryStatus.SUCCEEDED:
        messages.success(request, f"Ping delivered: the receiver answered HTTP {delivery.response_code}.")
    else:
        messages.error(request, f"Ping not delivered: {delivery.last_error or 'no answer'}")


def _rotated(request, endpoint):
    _show_secret_once(request, endpoint)
    messages.success(request, "New secret made. The old one no longer signs anything, from now on.")


def _deactivated(request, endpoint):
    messages.success(request, "Endpoint deactivated: nothing more is sent to it.")


webhook_ping = _endpoint_action(webhooks.webhook_ping, _pinged)
webhook_rotate_secret = _endpoint_action(webhooks.webhook_endpoint_rotate_secret, _rotated)
webhook_deactivate = _endpoint_action(webhooks.webhook_endpoint_deactivate, _deactivated)


@require_POST
@login_required
def webhook_delivery_resend(request, pk):
    delivery = get_object_or_404(WebhookDelivery.objects.visible_to(request.user).select_related("endpoint"), pk=pk)
    try:
        delivery = webhooks.webhook_delivery_resend(actor=request.user, delivery=delivery)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if delivery.status == DeliveryStatus.SUCCEEDED:
            messages.success(request, f"Re-sent: the receiver answered HTTP {delivery.response_code}.")
        else:
            messages.error(request, f"Re-send failed: {delivery.last_error or 'no answer'}")
    return redirect(delivery.endpoint)
