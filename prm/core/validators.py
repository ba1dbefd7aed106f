import re

from django.core.exceptions import ValidationError

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")


def normalize_domain(value: str) -> str:
    """`https://www.Example.com/about` → `example.com`; raises ValidationError if not a domain."""
    text = (value or "").strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/")[0].split(":")[0]
    text = text.removeprefix("www.")
    if not _DOMAIN.match(text):
        raise ValidationError(f"“{value}” is not a domain name such as example.com.", code="invalid_domain")
    return text


def normalize_domain_field(instance, field: str) -> None:
    """Normalise `instance.<field>` in a model's clean(); an error is reported on that field."""
    value = getattr(instance, field)
    if value:
        try:
            setattr(instance, field, normalize_domain(value))
        except ValidationError as error:
            raise ValidationError({field: error.messages}) from None
