from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.contacts.models import ConsentStatus
from crm.core.forms import (
    CountryField,
    TagsField,
    VersionedForm,
    check_email,
    enum_choices,
)
from crm.organizations.forms import OrganizationNameField


class ContactForm(VersionedForm):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=100)])
    email = StringField("Email", validators=[Optional(), Length(max=254), check_email])
    phone = StringField("Phone", validators=[Optional(), Length(max=50)])
    title = StringField("Job title", validators=[Optional(), Length(max=150)])
    organization = OrganizationNameField(description="Type to find an existing organization.")
    country = CountryField()
    languages = StringField(
        "Languages",
        validators=[Optional(), Length(max=200)],
        description="Names or codes, separated by commas: “Bengali, English”.",
    )
    tags = TagsField("Tags", description="Separate tags with commas.", validators=[Length(max=500)])
    owner_id = SelectField("Owner", choices=[], validate_choice=False)
    consent_status = SelectField("Email consent", choices=enum_choices(ConsentStatus))
    consent_source = StringField(
        "Consent source",
        validators=[Optional(), Length(max=100)],
        description="Where the person agreed or withdrew (e.g. “signed up at the Dhaka workshop”).",
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=10_000)])

    def __init__(self, *args, owner_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = [("", "— nobody —"), *owner_choices]
