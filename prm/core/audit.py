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
around work done for a known person outside a request (`close_period --as`, a service that is told
its actor), or else from the row's own "who" field (`closed_by`, `decided_by` …).

Every entry also names its origin, so work no person did is still attributed: "web" or "api" for a
request, else what `audit_origin()` names around it: "command close_period" (every management
command, prm/core/commands.py), "task period_close_task" or "schedule alerts_evaluate_task" (every
Celery task, prm/celery.py).

`QuerySet.update()` and `bulk_create()` send no signals. Audited rows are written with `save()`, or,
where a save per row would be wrong (set-based writes over many rows), with `audit_update()` and
`audit_created()` below, which write the same entries in bulk. `QuerySet.delete()` needs nothing:
Django sends `post_delete` for each row when a receiver is connected.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete, post_save, pre_save

# What the log shows for a secret (a password, a key hash) that changed: never its value.
SECRET_MARK = "(changed)"  # noqa: S105  not a secret: the placeholder for one

_request: ContextVar = ContextVar("prm_audit_request", default=None)
_actor: ContextVar = ContextVar("prm_audit_actor", default=None)
_origin: ContextVar = ContextVar("prm_audit_origin", default=None)

ORIGIN_LENGTH = 100  # AuditEntry.origin's max_length
_UNSET = object()  # "not given", where None is a value
# Entries (and the rows read for them) per query in the bulk helpers.
BULK_BATCH = 1000


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


@contextmanager
def audit_origin(origin: str) -> Iterator[None]:
    """Name the non-request work that makes the audited changes inside the block: "command close_period",
    "task period_close_task", "schedule alerts_evaluate_task". The innermost one wins."""
    token = _origin.set(origin[:ORIGIN_LENGTH])
    try:
        yield
    finally:
        _origin.reset(token)


def current_origin() -> str:
    """Where the change comes from: the innermost `audit_origin`, else the request ("web" or "api"), else ""."""
    origin = _origin.get()
    if origin:
        return origin
    request = _request.get()
    if request is not None:
        # Not the path itself: an invitation's link carries its token.
        return "api" if request.path_info.startswith("/api/") else "web"
    return ""


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


def _entry(instance, spec: Audited, action: str, before: dict, after: dict, *, partner_id=_UNSET):
    """The unsaved entry for one change of `instance` (`partner_id` when the caller read it in bulk)."""
    from prm.core.models import AuditEntry

    actor = current_actor()
    actor_id = getattr(actor, "pk", None)
    if actor_id is None and spec.actor_field:
        actor_id = getattr(instance, spec.actor_field, None)
    return AuditEntry(
        actor_id=actor_id,
        origin=current_origin(),
        action=action,
        object_type=spec.label,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        before=_json({name: _shown(spec, name, value) for name, value in before.items()}),
        after=_json({name: _shown(spec, name, value) for name, value in after.items()}),
        partner_id=_partner_id(instance, spec.partner) if partner_id is _UNSET else partner_id,
    )


def _record(instance, spec: Audited, action: str, before: dict, after: dict) -> None:
    _entry(instance, spec, action, before, after).save()


def _change(model, spec: Audited, before: dict, after: dict) -> tuple[str, dict, dict] | None:
    """(action, before, after) of the changed fields, or None when there is nothing to record."""
    changed = [name for name in after if before.get(name) != after[name]]
    if not changed:
        return None
    if spec.decision:
        decision = model._meta.get_field(spec.decision).attname
        if decision not in changed:
            return None
        action = str(after[decision])
    else:
        action = "update"
    return action, {n: before.get(n) for n in changed}, {n: after[n] for n in changed}


def _created(after: dict) -> dict:
    return {name: value for name, value in after.items() if value not in (None, "")}


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
        _record(instance, spec, "create", {}, _created(after))
        return
    change = _change(sender, spec, before, after)
    if change is not None:
        _record(instance, spec, *change)


def _after_delete(sender, instance, **kwargs):
    spec = _specs[sender]
    if spec.decision:
        return
    before = _snapshot(sender, spec, _instance_values(instance))
    _record(instance, spec, "delete", {name: value for name, value in before.items() if value not in (None, "")}, {})


# --- Set-based writes -----------------------------------------------------------------------------


def _chunks(items: list, size: int = BULK_BATCH) -> Iterator[list]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def _partner_ids(model, spec: Audited, pks: list) -> dict:
    """The partner of each row, read in one query per batch (following the path row by row would be N+1)."""
    if not spec.partner or not pks:
        return {}
    if spec.partner == "pk":  # a partner is its own
        return {pk: pk for pk in pks}
    lookup = spec.partner.replace(".", "__")
    found = {}
    for chunk in _chunks(pks):
        found.update(model._base_manager.filter(pk__in=chunk).values_list("pk", lookup))
    return {pk: value if isinstance(value, int) else None for pk, value in found.items()}


def _bulk_save(entries: list) -> None:
    from prm.core.models import AuditEntry

    AuditEntry.objects.bulk_create(entries, batch_size=BULK_BATCH)


def audit_created(instances, *, unless_recorded: bool = False) -> int:
    """Record the creation of rows written with `bulk_create()` (which sends no signals), in bulk.

    `instances`: saved rows of one model (with their primary keys), e.g. what `bulk_create` returned,
    or a queryset reading them back. `unless_recorded`: skip rows that already have their "create" entry,
    for `bulk_create(ignore_conflicts=True)`, whose rows must be read back and may include a racing
    call's (committed with its entries, so READ COMMITTED sees both). Returns the entries written.
    """
    from prm.core.models import AuditEntry

    rows = [row for row in instances if type(row) in _specs and not _specs[type(row)].decision]
    if not rows:
        return 0
    model = type(rows[0])
    if any(type(row) is not model for row in rows):
        raise ValueError("audit_created() takes the rows of one model at a time.")
    spec = _specs[model]
    if unless_recorded:
        recorded = set()
        for chunk in _chunks([str(row.pk) for row in rows]):
            recorded.update(
                AuditEntry.objects.filter(object_type=spec.label, action="create", object_id__in=chunk).values_list(
                    "object_id", flat=True
                )
            )
        rows = [row for row in rows if str(row.pk) not in recorded]
    partners = _partner_ids(model, spec, [row.pk for row in rows])
    entries = [
        _entry(
            row,
            spec,
            "create",
            {},
            _created(_snapshot(model, spec, _instance_values(row))),
            partner_id=partners.get(row.pk),
        )
        for row in rows
    ]
    _bulk_save(entries)
    return len(entries)


def audit_update(queryset, **values) -> int:
    """`queryset.update(**values)`, audited: one entry per row that changed, as a `save()` would write.

    For set-based writes to an audited model. The rows are locked and read first, updated (still
    under the queryset's own conditions, so a conditional update keeps its meaning), read again,
    and their entries written in bulk. Returns the number of rows updated, like `update()`.
    """
    model = queryset.model
    spec = _specs[model]
    names = [field.attname for field in _fields(model, spec)]
    with transaction.atomic(using=queryset.db):
        # Locking this table's rows only: the queryset's joins may be outer joins, which PostgreSQL cannot lock.
        rows = list(queryset.select_for_update(of=("self",)))
        if not rows:
            return 0
        pks = [row.pk for row in rows]
        updated = 0
        after: dict = {}
        for chunk in _chunks(pks):
            updated += queryset.filter(pk__in=chunk).update(**values)
            for written in model._base_manager.filter(pk__in=chunk).values("pk", *names):
                after[written.pop("pk")] = written
        changes = []
        for row in rows:
            before = _snapshot(model, spec, _instance_values(row))
            written = after.get(row.pk)
            if written is None:
                continue
            for name, value in written.items():  # the entry's text and actor field as they are now
                setattr(row, name, value)
            change = _change(model, spec, before, _snapshot(model, spec, written))
            if change is not None:
                changes.append((row, change))
        partners = _partner_ids(model, spec, [row.pk for row, _ in changes])
        _bulk_save([_entry(row, spec, *change, partner_id=partners.get(row.pk)) for row, change in changes])
    return updated
