from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from prm.plans.models import Metric

METRIC_FIELDS = ("code", "name", "unit", "aggregation", "field", "allow_negative", "description")


def _require_manager(actor) -> None:
    if not actor.is_manager:
        raise PermissionDenied("Only channel managers configure metrics.")


def metric_create(*, actor, **fields) -> Metric:
    _require_manager(actor)
    metric = Metric(**{name: value for name, value in fields.items() if name in METRIC_FIELDS})
    metric.full_clean()
    metric.save()
    return metric


def metric_update(*, actor, metric: Metric, **fields) -> Metric:
    """Change a metric's name, unit or description; how it counts is fixed once usage exists,
    because past totals would silently change meaning."""
    _require_manager(actor)
    with transaction.atomic():
        metric = Metric.objects.select_for_update().get(pk=metric.pk)
        has_usage = metric.usage_events.exists()
        for name, value in fields.items():
            if name not in METRIC_FIELDS:
                continue
            if has_usage and name in ("code", "aggregation", "field") and getattr(metric, name) != value:
                raise ValidationError({name: "Fixed once usage has been recorded; create a new metric instead."})
            setattr(metric, name, value)
        metric.full_clean()
        metric.save()
    return metric
