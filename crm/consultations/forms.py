from __future__ import annotations

from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from crm.consultations.models import Access
from crm.core.forms import (
    CountryField,
    HoneypotField,
    VersionedForm,
    check_email,
    enum_choices,
)
from crm.organizations.models import OrganizationKind


class ConsultationForm(VersionedForm):
    title = StringField(
        "Title",
        validators=[DataRequired(message="Give a title."), Length(max=200)],
        description="For example “2.0 draft” or “1.0 review”.",
    )
    standard_id = SelectField("Version consulted on", coerce=int, choices=[])
    opens_on = DateField("Opens on", validators=[DataRequired(message="Give the day it opens.")])
    closes_on = DateField(
        "Closes on",
        validators=[DataRequired(message="Give the day it closes.")],
        description="The last day answers are taken.",
    )
    access = SelectField("Who answers", choices=enum_choices(Access), validate_choice=False)
    segment_id = SelectField(
        "Invited segment",
        choices=[],
        validate_choice=False,
        description="For a consultation by invitation: the contacts who are invited.",
    )
    description = TextAreaField(
        "Introduction", validators=[Optional(), Length(max=20_000)],
        description="Shown at the top of the response page.",
    )  # fmt: skip


class RecommendationForm(VersionedForm):
    principle_id = SelectField("About", choices=[], validate_choice=False)
    new_code = StringField("New principle's code", validators=[Optional(), Length(max=10)])
    new_title = StringField("New principle's title", validators=[Optional(), Length(max=200)])
    text = TextAreaField("Draft text", validators=[DataRequired(), Length(max=20_000)])


class ResponseForm(VersionedForm):
    """Who answers (the public page; on a personal link the email is known) plus a honeypot.
    The marks and comments are read from `mark-p<id>` / `comment-r<id>` fields."""

    name = StringField("Your name", validators=[Optional(), Length(max=200)])
    email = StringField(
        "Email",
        validators=[
            Optional(),
            Length(max=254),
            Email(message="That is not an email address."),
            check_email,
        ],
    )
    organization = StringField("Organization", validators=[Optional(), Length(max=200)])
    organization_kind = SelectField(
        "Kind of organization",
        choices=enum_choices(OrganizationKind, blank="—"),
        validate_choice=False,
    )
    country = CountryField()
    named = BooleanField("You may name me (and my organization) when you report what people said")
    website = HoneypotField()


class ThemesForm(VersionedForm):
    themes = StringField("Themes", validators=[Optional(), Length(max=500)])


class AddressedForm(VersionedForm):
    note = StringField("What changed in the draft", validators=[Optional(), Length(max=1000)])


class PublishForm(VersionedForm):
    new_version = StringField("New version", validators=[DataRequired(), Length(max=20)])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    make_current = BooleanField("Make it the current version now (pledges can then move to it)")


class DiscardForm(VersionedForm):
    """Only the CSRF token: the person drops what was typed on the public page."""
