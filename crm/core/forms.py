"""Form pieces shared by every domain."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from crm.core.countries import country_choices, normalize_country
from crm.core.errors import OperationError
from crm.core.validation import normalize_email


class VersionedForm(FlaskForm):
    """Carries the record version it was loaded with, so a later save can detect a conflict."""

    version = HiddenField()

    def loaded_version(self) -> int | None:
        try:
            return int(self.version.data) if self.version.data else None
        except ValueError:
            return None


class CountryField(SelectField):
    data: str | None  # an ISO 3166-1 code once validated (what the person typed before)

    def __init__(self, label: str = "Country", **kwargs):
        kwargs.setdefault("validators", [Optional()])
        super().__init__(label, choices=[], validate_choice=False, **kwargs)

    def iter_choices(self):
        # Choices are built per render so every form shares one cached list.
        yield ("", "—", self.data in (None, ""), {})
        for code, name in country_choices():
            yield (code, name, code == self.data, {})

    def pre_validate(self, form) -> None:
        if self.data in (None, ""):
            self.data = None
            return
        code = normalize_country(self.data)
        if code is None:
            raise ValidationError(f"“{self.data}” is not a country we know (ISO 3166-1).")
        self.data = code


class TagsField(StringField):
    """Comma-separated tags."""

    def process_data(self, value: object) -> None:
        # Filled from a record, it is given the record's Tag rows (or names): keep them as the
        # text a person would type, so a post that leaves the field out still reads text.
        if isinstance(value, list | tuple):
            value = ", ".join(str(getattr(tag, "name", tag)) for tag in value)
        super().process_data(value)

    def _value(self) -> str:
        if isinstance(self.data, list):
            return ", ".join(self.data)
        return self.data or ""


class HoneypotField(StringField):
    """A field the page hides from people (the `honeypot` macro): bots that fill every field
    give themselves away (crm/core/public_forms.py)."""

    def __init__(self, label: str = "Leave this empty", **kwargs):
        kwargs.setdefault("validators", [Optional(), Length(max=200)])
        super().__init__(label, **kwargs)


def enum_choices(enum_cls, blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(member.value, member.label) for member in enum_cls]
    return ([("", blank)] if blank is not None else []) + choices


def check_email(form, field) -> None:
    """Inline validator: the same check the operations make, shown next to the field (once:
    not when an earlier validator, such as `Email`, already refused the address)."""
    if field.data and field.data.strip() and not field.errors:
        try:
            normalize_email(field.data)
        except OperationError as exc:
            raise ValidationError(exc.message) from None


def required_email(label: str = "Email") -> StringField:
    """The email address a public form cannot do without, checked as the operations check it."""
    return StringField(
        label,
        validators=[
            DataRequired(message="Give your email address."),
            Length(max=254),
            Email(message="That is not an email address."),
            check_email,
        ],
    )


def show_operation_error(form, exc) -> None:
    """An operation's refusal next to the field it names, or as a message at the top."""
    from flask import flash

    # Several refusals at once (crm.consultations.operations.problems.Problems): each is shown.
    for name, message in getattr(exc, "problems", None) or [(exc.field, exc.message)]:
        field = getattr(form, name, None) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            flash(message, "danger")
