import django_tables2 as tables

from prm.plans.models import Metric


class MetricTable(tables.Table):
    code = tables.Column(linkify=True)

    class Meta:
        model = Metric
        fields = ("code", "name", "unit", "aggregation", "field", "allow_negative")
        attrs = {"class": "table"}
