"""The audit log: who changed which configuration, or decided which approval, when, before and after.

One generic mechanism instead of a call in every service: each audited model is registered once
below (by its label, so core imports no other app), and model signals record an `AuditEntry` in the
same transaction as the change, so a change that rolls back leaves no entry and a committed change
always has one. ARCHITECTURE.md allows signals for exactly this cross-cutting concern.

- Configuration models: every create, update (the fields that changed) and delete.
- Decisions (an application, deal, MDF request, statement, tier evaluation, contract change): an
  entry when their decision field changes; the action is its new value ("approved", "rejected" …).

The acting user comes from the request being served (`AuditContextMiddleware`; a DRF request's
API-key user included, since DRF sets the user on the underlying request), from `acting_as(user)`
around work done outside a request (commands, Celery tasks), or else from the row's own "who"
field (`closed_by`, `decided_by` …).

Writes through `QuerySet.update()` or `bulk_create()` send no signals and are not recorded: audited
changes go through `save()`.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete, post_save, pre_save

# What the log shows for a secret (a password, a key hash) that changed: never its value.
SECRET_MARK = "(changed)"  # noqa: S105  not a secret: the placeholder for one

_request: ContextVar = ContextVar("prm_audit_request", default=None)
_actor: ContextVar = ContextVar("prm_audit_actor", default=None)


@dataclass(frozen=True)
class Audited:
    """How one model is audited."""

    label: str  # "plans.Plan"
    exclude: tuple[str, ...] = ()  # fields never recorded (bookkeeping such as last_login)
    secret: tuple[str, ...] = ()  # recorded only as SECRET_MARK when they change
    partner: str | None = None  # dotted path from the row to its partner's id, for scoping
    decision: str | None = None  # a decision model: record only when this field changes
    actor_field: str | None = None  # the row's own "who", when no request or acting_as names one


# Configuration and approvals, as issue 9 lists them. A decision model's creation (a partner
# registering a deal) is not a configuration change; its decisions are.
AUDITED: tuple[Audited, ...] = (
    Audited("plans.Metric"),
    Audited("plans.Plan"),
    Audited("plans.PlanVersion", actor_field="created_by_id"),
    Audited("incentives.CommissionRule", actor_field="created_by_id"),
    Audited("incentives.MdfBudget"),
    Audited("partners.Tier"),
    Audited("partners.ExchangeRate"),
    Audited("partners.TargetMarket"),
    Audited("partners.Partner", partner="pk"),  # stage and tier changes included
    Audited("customers.ContractPolicy", actor_field="updated_by_id"),
    Audited("notifications.WebhookEndpoint", secret=("secret",), partner="partner_id", actor_field="created_by_id"),
    Audited("usage.AlertRule", partner="customer.reseller_id", actor_field="created_by_id"),
    Audited("accounts.User", exclude=("last_login",), secret=("password",), partner="membership.partner_id"),
    Audited("accounts.Membership", partner="partner_id"),
    Audited("accounts.Invitation", secret=("token_hash",), partner="partner_id", actor_field="invited_by_id"),
    Audited("accounts.ApiKey", exclude=("last_used_at",), secret=("key_hash",), partner="user.membership.partner_id"),
    Audited("partners.PartnerApplication", decision="status", partner="partner_id", actor_field="decided_by_id"),
    Audited("deals.DealRegistration", decision="status", partner="partner_id", actor_field="decided_by_id"),
    Audited("incentives.MdfRequest", decision="status", partner="partner_id", actor_field="decided_by_id"),
    Audited("incentives.Statement", decision="status", partner="partner_id", actor_field="approved_by_id"),
    Audited("partners.TierEvaluation", decision="status", partner="partner_id", actor_field="decided_by_id"),
    Audited(
        "customers.SubscriptionChange",
        decision="approval",
        partner="subscription.customer.reseller_id",
        actor_field="decided_by_id",
    ),
    Audited("core.ClosedBillingPeriod", actor_field="closed_by_id"),  # a period close
)

_specs: dict[type, Audited] = {}


def register_all() -> None:
    """Connect the signals for every model in AUDITED (from CoreConfig.ready, once models are loaded)."""
    from django.apps import apps

    for spec in AUDITED:
        try:
            model = apps.get_model(spec.label)
        except LookupError:  # an app not installed in this project: nothing to audit
            continue
        _specs[model] = spec
        uid = f"prm-audit-{spec.label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)


def audited_models() -> list[type]:
    return list(_specs)


# --- Who is acting ------------------------------------------------------------------------------


class AuditContextMiddleware:
    """Makes the request being served the source of the acting user for audit entries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextmanager
def acting_as(user) -> Iterator[None]:
    """Attribute the audited changes made inside the block to `user` (commands, tasks, services)."""
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor():
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    # Read at signal time, not when the request began: DRF authenticates (API keys) inside the view.
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


# --- The diff -----------------------------------------------------------------------------------


def _fields(model, spec: Audited):
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in spec.exclude or field.attname in spec.exclude:
            continue
        if getattr(field, "auto_now", False):  # updated_at: noise, every save changes it
            continue
        yield field


def _comparable(field, value):
    if isinstance(value, FieldFile):
        return value.name or None
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


def _json(value):
    """A JSON-safe copy: Decimals and datetimes as strings (exact), as DjangoJSONEncoder writes them."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _snapshot(model, spec: Audited, values: dict) -> dict:
    return {field.attname: _comparable(field, values.get(field.attname)) for field in _fields(model, spec)}


def _instance_values(instance) -> dict:
    return {field.attname: field.value_from_object(instance) for field in instance._meta.concrete_fields}


def _shown(spec: Audited, name: str, value):
    if name in spec.secret or name.removesuffix("_id") in spec.secret:
        return SECRET_MARK if value else None
    return value


def _partner_id(instance, path: str | None):
    if not path:
        return None
    value = instance
    try:
        for part in path.split("."):
            value = getattr(value, part)
            if value is None:
                return None
    except (ObjectDoesNotExist, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _record(instance, spec: Audited, action: str, before: dict, after: dict) -> None:
    from prm.core.models import AuditEntry

    actor = current_actor()
    actor_id = getattr(actor, "pk", None)
    if actor_id is None and spec.actor_field:
        actor_id = getattr(instance, spec.actor_field, None)
    AuditEntry.objects.create(
        actor_id=actor_id,
        action=action,
        object_type=spec.label,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        before=_json({name: _shown(spec, name, value) for name, value in before.items()}),
        after=_json({name: _shown(spec, name, value) for name, value in after.items()}),
        partner_id=_partner_id(instance, spec.partner),
    )


def _before_save(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._audit_before = None
    if raw or instance._state.adding or instance.pk is None:
        return
    spec = _specs[sender]
    names = [field.attname for field in _fields(sender, spec)]
    if update_fields is not None:
        written = {sender._meta.get_field(name).attname for name in update_fields}
        if not written & set(names):  # only bookkeeping written (last_used_at …): nothing to read
            return
    row = sender._base_manager.using(instance._state.db).filter(pk=instance.pk).values(*names).first()
    if row is not None:
        instance._audit_before = _snapshot(sender, spec, row)


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    spec = _specs[sender]
    after = _snapshot(sender, spec, _instance_values(instance))
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = None
    if created or before is None:
        if not created or spec.decision:  # a decision model's creation is not a decision
            return
        _record(instance, spec, "create", {}, {name: value for name, value in after.items() if value not in (None, "")})
        return
    changed = [name for name in after if before.get(name) != after[name]]
    if not changed:
        return
    if spec.decision:
        decision = sender._meta.get_field(spec.decision).attname
        if decision not in changed:
            return
        action = str(after[decision])
    else:
        action = "update"
    _record(instance, spec, action, {n: before.get(n) for n in changed}, {n: after[n] for n in changed})


def _after_delete(sender, instance, **kwargs):
    spec = _specs[sender]
    if spec.decision:
        return
    before = _snapshot(sender, spec, _instance_values(instance))
    _record(instance, spec, "delete", {name: value for name, value in before.items() if value not in (None, "")}, {})
