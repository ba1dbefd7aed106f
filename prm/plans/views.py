from prm.core.views import ObjectCreateView, ObjectEditView, ObjectListView
from prm.plans import services
from prm.plans.filtersets import MetricFilterSet
from prm.plans.forms import MetricForm
from prm.plans.models import Metric
from prm.plans.tables import MetricTable


class MetricListView(ObjectListView):
    """The metric catalogue: everyone signed in reads it; managers add and edit."""

    model = Metric
    table_class = MetricTable
    filterset_class = MetricFilterSet
    create_url_name = "metric_create"

    def can_create(self):
        return self.request.user.is_manager


class MetricCreateView(ObjectCreateView):
    model = Metric
    form_class = MetricForm

    def can_create(self):
        return self.request.user.is_manager

    def save(self, form):
        return services.metric_create(actor=self.request.user, **form.cleaned_data)


class MetricEditView(ObjectEditView):
    model = Metric
    form_class = MetricForm

    def can_edit(self, obj):
        return self.request.user.is_manager

    def save(self, form):
        return services.metric_update(actor=self.request.user, metric=self.object, **form.cleaned_data)
