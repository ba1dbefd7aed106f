import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views import View
from django.views.decorators.http import require_POST
from django_tables2 import LazyPaginator

from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView, add_errors
from prm.usage import alerts, services
from prm.usage.filtersets import AlertFilterSet, AlertRuleFilterSet, EventFilterSet, QuarantineFilterSet
from prm.usage.forms import AlertRuleForm, ReasonForm, ReplaceForm, UsageUploadForm
from prm.usage.models import Alert, AlertRule, QuarantinedEvent, QuarantineStatus, UsageEvent, UsageUpload
from prm.usage.tables import AlertRuleTable, AlertTable, QuarantineTable, UsageEventTable, UsageUploadTable
from prm.usage.uploads import usage_csv_upload


class UsageEventListView(ObjectListView):
    """The most recently received first, like the API (`prm/usage/api.py`): the primary key's index
    serves that order, where the time order sorts every visible event per page (the list's
    `Timestamp` column still sorts by time when clicked). Pages are not counted (LazyPaginator):
    a COUNT reads every visible event, of a table with millions."""

    model = UsageEvent
    table_class = UsageEventTable
    filterset_class = EventFilterSet
    select_related = ("customer", "metric")
    title = "Usage events"
    table_pagination = {**ObjectListView.table_pagination, "paginator_class": LazyPaginator}

    def get_queryset(self):
        return super().get_queryset().order_by("-pk")


class UsageEventDetailView(ObjectDetailView):
    model = UsageEvent
    select_related = ("customer", "metric", "replaces", "sent_by")
    template_name = "usage/event_detail.html"

    def get_context_data(self, **kwargs):
        event = self.object
        can_amend = services.can_amend(self.request.user, event) and event.status == "active"
        return super().get_context_data(
            properties_json=json.dumps(event.properties, indent=2, sort_keys=True),
            amendments=event.amendments.select_related("amended_by", "replacement"),
            can_amend=can_amend,
            void_form=ReasonForm(prefix="void"),
            replace_form=ReplaceForm(prefix="replace"),
            **kwargs,
        )


@require_POST
@login_required
def usage_event_amend(request, pk, action):
    event = get_object_or_404(UsageEvent.objects.visible_to(request.user), pk=pk)
    form = (ReasonForm if action == "void" else ReplaceForm)(request.POST, prefix=action)
    if form.is_valid():
        try:
            if action == "void":
                services.event_void(actor=request.user, event=event, reason=form.cleaned_data["reason"])
                messages.success(request, "Event voided; the totals of its hour were recomputed.")
                return redirect(event)
            replacement = services.event_replace(actor=request.user, event=event, **form.cleaned_data)
            messages.success(request, "Event replaced; the original is kept, voided, for audit.")
            return redirect(replacement)
        except ValidationError as error:
            add_errors(form, error)
    for field, errors in form.errors.items():
        messages.error(request, f"{field}: {' '.join(errors)}")
    return redirect(event)


class QuarantineListView(ObjectListView):
    model = QuarantinedEvent
    table_class = QuarantineTable
    filterset_class = QuarantineFilterSet
    title = "Quarantine"
    template_name = "usage/quarantinedevent_list.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.is_manager:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        pending = QuarantinedEvent.objects.visible_to(self.request.user).filter(status=QuarantineStatus.PENDING)
        return super().get_context_data(pending_count=pending.count(), **kwargs)


@require_POST
@login_required
def quarantine_act(request, pk, action):
    item = get_object_or_404(QuarantinedEvent.objects.visible_to(request.user), pk=pk)
    try:
        if action == "reprocess":
            outcome = services.quarantine_reprocess(actor=request.user, item=item)
            item.refresh_from_db()
            if outcome == "quarantined":
                messages.warning(request, f"Still not countable: {item.detail}")
            else:
                messages.success(request, f"Event {item.event_id}: {outcome}.")
        else:
            services.quarantine_discard(actor=request.user, item=item, reason=request.POST.get("reason", ""))
            messages.success(request, f"Event {item.event_id} discarded.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(request.POST.get("next") or "quarantine_list")


@require_POST
@login_required
def quarantine_reprocess_all(request):
    """Re-process every waiting event that matches the list's filters (after fixing a cause)."""
    if not request.user.is_manager:
        raise PermissionDenied
    waiting = QuarantinedEvent.objects.visible_to(request.user).filter(status=QuarantineStatus.PENDING)
    filtered = QuarantineFilterSet(request.GET, queryset=waiting).qs
    outcomes: dict[str, int] = {}
    for item in filtered[:10_000]:
        outcome = services.quarantine_reprocess(actor=request.user, item=item)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing waiting"
    messages.success(request, f"Re-processed: {summary}.")
    return redirect("quarantine_list")


class UsageUploadView(LoginRequiredMixin, View):
    template_name = "usage/upload.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not services.can_send_usage(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return self._render(request, UsageUploadForm())

    def post(self, request):
        form = UsageUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = usage_csv_upload(actor=request.user, file=upload, filename=upload.name)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    f"{result.filename}: {result.accepted} accepted, {result.duplicates} duplicates, "
                    f"{result.quarantined} quarantined, {result.rejected} rejected.",
                )
                return redirect("usage_upload")
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200):
        uploads = UsageUpload.objects.visible_to(request.user).select_related("uploaded_by")[:20]
        table = UsageUploadTable(uploads, orderable=False)
        return render(request, self.template_name, {"form": form, "table": table}, status=status)


@login_required
def usage_upload_report(request, pk):
    upload = get_object_or_404(UsageUpload.objects.visible_to(request.user), pk=pk)
    response = HttpResponse(upload.report, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{slugify(upload.filename)}-{upload.pk}.csv"'
    return response


# --- alerts ----------------------------------------------------------------------------------


class AlertRuleListView(ObjectListView):
    model = AlertRule
    table_class = AlertRuleTable
    filterset_class = AlertRuleFilterSet
    select_related = ("customer", "subscription", "metric")
    title = "Alert rules"
    create_url_name = "alert_rule_create"
    template_name = "usage/alertrule_list.html"

    def can_create(self):
        return alerts.can_manage_alert_rules(self.request.user)

    def get_table_kwargs(self):
        # A customer's people see their own rules only: the customer column would repeat itself.
        return {"exclude": ("customer",)} if self.request.user.is_customer_user else {}


class AlertRuleFormMixin:
    model = AlertRule
    form_class = AlertRuleForm
    template_name = "usage/alertrule_form.html"

    def get_success_url(self):
        return reverse("alert_rule_list")


class AlertRuleCreateView(AlertRuleFormMixin, ObjectCreateView):
    def can_create(self):
        return alerts.can_manage_alert_rules(self.request.user)

    def save(self, form):
        return alerts.alert_rule_create(actor=self.request.user, **form.cleaned_data)


class AlertRuleEditView(AlertRuleFormMixin, ObjectEditView):
    select_related = ("customer", "subscription", "metric")

    def can_edit(self, obj):
        return alerts.can_manage_alert_rules(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "customer"}
        return alerts.alert_rule_update(actor=self.request.user, rule=self.object, **fields)


class AlertListView(ObjectListView):
    model = Alert
    table_class = AlertTable
    filterset_class = AlertFilterSet
    select_related = ("customer", "metric")
    title = "Alerts"
    template_name = "usage/alert_list.html"

    def get_table_kwargs(self):
        return {"exclude": ("customer",)} if self.request.user.is_customer_user else {}

    def get_context_data(self, **kwargs):
        return super().get_context_data(can_acknowledge=alerts.can_acknowledge_alerts(self.request.user), **kwargs)


class AlertDetailView(ObjectDetailView):
    model = Alert
    select_related = ("rule", "customer", "subscription", "metric", "acknowledged_by")
    template_name = "usage/alert_detail.html"

    def get_context_data(self, **kwargs):
        alert = self.object
        figures = {
            "observed": alerts.figure(alert.observed),
            "limit": alerts.figure(alert.limit),
            "threshold": alerts.figure(alert.threshold),
            "median": alerts.figure(alert.baseline_median) if alert.baseline_median is not None else "",
            "mad": alerts.figure(alert.baseline_mad) if alert.baseline_mad is not None else "",
        }
        return super().get_context_data(
            figures=figures,
            can_acknowledge=alerts.can_acknowledge_alerts(self.request.user),
            can_edit_rule=alerts.can_manage_alert_rules(self.request.user),
            **kwargs,
        )


@require_POST
@login_required
def alert_acknowledge(request, pk):
    alert = get_object_or_404(Alert.objects.visible_to(request.user), pk=pk)
    alerts.alert_acknowledge(actor=request.user, alert=alert)  # PermissionDenied: 403 for viewers
    messages.success(request, "Alert acknowledged.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = alert.get_absolute_url()
    return redirect(target)
