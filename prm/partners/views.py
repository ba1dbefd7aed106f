from django.db.models import Count

from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView
from prm.customers.models import Customer
from prm.partners import services
from prm.partners.filtersets import PartnerFilterSet
from prm.partners.forms import PartnerForm
from prm.partners.models import Partner, Stage
from prm.partners.permissions import can_manage_partners
from prm.partners.tables import PartnerTable


class PartnerListView(ObjectListView):
    model = Partner
    table_class = PartnerTable
    filterset_class = PartnerFilterSet
    create_url_name = "partner_create"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("tier", "channel_manager")
            .annotate(customer_count=Count("customers"))
            .order_by("name")  # Meta.ordering is dropped by the GROUP BY of the count
        )

    def can_create(self):
        return can_manage_partners(self.request.user)


class PartnerDetailView(ObjectDetailView):
    model = Partner
    select_related = ("tier", "channel_manager", "parent")
    template_name = "partners/partner_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        partner, user = self.object, self.request.user
        context["customers"] = Customer.objects.visible_to(user).filter(reseller=partner).select_related("assigned_rep")
        context["stage_changes"] = partner.stage_changes.select_related("changed_by")[:20]
        context["resellers"] = Partner.objects.visible_to(user).filter(parent=partner)
        context["can_edit"] = can_manage_partners(user)
        context["lifecycle"] = lifecycle_steps(partner.stage)
        return context


def lifecycle_steps(current: str) -> list[dict]:
    """The seven stages with each one marked done, current or ahead, for the progress bar."""
    values = Stage.values
    reached = values.index(current)
    return [
        {"value": value, "label": label, "state": "done" if i < reached else "current" if i == reached else "ahead"}
        for i, (value, label) in enumerate(Stage.choices)
    ]


class PartnerCreateView(ObjectCreateView):
    model = Partner
    form_class = PartnerForm

    def can_create(self):
        return can_manage_partners(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        return services.partner_create(actor=self.request.user, **fields)


class PartnerEditView(ObjectEditView):
    model = Partner
    form_class = PartnerForm

    def can_edit(self, obj):
        return can_manage_partners(self.request.user)

    def save(self, form):
        fields = {name: value for name, value in form.cleaned_data.items() if name != "reason"}
        reason = form.cleaned_data.get("reason") or "Changed by a channel manager"
        return services.partner_update(actor=self.request.user, partner=self.object, reason=reason, **fields)
