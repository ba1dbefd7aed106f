import django_tables2 as tables

from prm.plans.models import Metric, Plan


class MetricTable(tables.Table):
    code = tables.Column(linkify=True)

    class Meta:
        model = Metric
        fields = ("code", "name", "unit", "aggregation", "field", "allow_negative")
        attrs = {"class": "table"}


class PlanTable(tables.Table):
    code = tables.Column(linkify=True)
    version = tables.Column(accessor="current_version__version", verbose_name="Version", orderable=False)

    class Meta:
        model = Plan
        fields = ("code", "name", "currency", "interval", "version", "is_active")
        attrs = {"class": "table"}
