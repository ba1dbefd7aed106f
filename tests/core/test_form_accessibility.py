"""Form fields are described to screen readers: the help text and the errors a field's widget names in
`aria-describedby` (Django 5.2: `<id>_helptext`, `<id>_error`) exist on the page under those ids."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse


class _Elements(HTMLParser):
    """Each element's attributes by id, the form controls' aria-describedby, and the text inside each id."""

    def __init__(self):
        super().__init__()
        self.ids: dict[str, dict] = {}
        self.described_by: dict[str, list[str]] = {}  # control id → the ids it names
        self.text: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the elements we are inside

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        element_id = attributes.get("id")
        if element_id:
            self.ids[element_id] = attributes
            self.text.setdefault(element_id, "")
        if tag in {"input", "select", "textarea"} and attributes.get("aria-describedby"):
            self.described_by[element_id or attributes.get("name", "")] = attributes["aria-describedby"].split()
        if tag not in {"input", "br", "img", "meta", "link", "hr"}:
            self._open.append((tag, element_id))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.text[element_id] += data


def _parse(response) -> _Elements:
    parser = _Elements()
    parser.feed(response.content.decode())
    return parser


@pytest.mark.django_db
def test_help_text_has_the_id_the_input_names_in_aria_describedby(world, login):
    response = login(world.manager).get(reverse("api_keys"))
    assert response.status_code == 200
    page = _parse(response)

    # ApiKeyForm.name has help text, so Django renders aria-describedby="id_name_helptext" on the input.
    assert page.described_by["id_name"] == ["id_name_helptext"]
    assert page.text["id_name_helptext"] == "What the key is for, e.g. “metering pipeline”."
    assert "id_name_help" not in page.ids  # the id this template used to render, which nothing referred to


@pytest.mark.django_db
def test_a_fields_errors_have_the_id_the_input_names_in_aria_describedby(world, login):
    response = login(world.manager).post(reverse("api_keys"), {"name": ""})
    assert response.status_code == 400
    page = _parse(response)

    assert page.described_by["id_name"] == ["id_name_helptext", "id_name_error"]
    assert page.ids["id_name"].get("aria-invalid") == "true"
    assert page.text["id_name_error"].strip() == "This field is required."
    assert page.text["id_name_helptext"] == "What the key is for, e.g. “metering pipeline”."


@pytest.mark.django_db
def test_every_described_by_id_on_the_login_page_exists(client):
    # A failed sign-in: the form's errors are shown, and whatever the inputs point at is on the page.
    response = client.post(reverse("account_login"), {"login": "", "password": ""})
    page = _parse(response)

    assert page.described_by, "the login form's empty fields should be described by their errors"
    for control, ids in page.described_by.items():
        for described_by in ids:
            assert described_by in page.ids, f"{control} names #{described_by}, which is not on the page"
            assert page.text[described_by].strip(), f"#{described_by} is empty"
