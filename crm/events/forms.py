from __future__ import annotations

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from crm.core.forms import (
    CountryField,
    HoneypotField,
    VersionedForm,
    check_email,
    enum_choices,
    required_email,
)
from crm.events.models import EventKind, Hosting, ParticipantRole

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class EventForm(VersionedForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=enum_choices(EventKind))
    hosting = SelectField("Hosted or attended", choices=enum_choices(Hosting))
    starts_local = DateTimeLocalField(
        "Starts", format=DATETIME_FORMATS, validators=[InputRequired(message="Give the start.")]
    )
    ends_local = DateTimeLocalField(
        "Ends", format=DATETIME_FORMATS, validators=[InputRequired(message="Give the end.")]
    )
    timezone = StringField(
        "Time zone",
        default="UTC",
        validators=[DataRequired(), Length(max=64)],
        description="The times above are local to the event, e.g. Asia/Dhaka or Europe/Berlin.",
        render_kw={"list": "timezone-options", "autocomplete": "off"},
    )
    venue = StringField("Place", validators=[Optional(), Length(max=300)])
    online_url = StringField("Online link", validators=[Optional(), Length(max=500)])
    country = CountryField()
    capacity = IntegerField(
        "Capacity", validators=[Optional()], description="Places; empty for no limit."
    )
    description = TextAreaField("Description", validators=[Optional(), Length(max=20_000)])
    is_public = BooleanField("Public: anyone can register on its public page")
    registration_open = BooleanField("Registration open", default=True)


class AddParticipantForm(VersionedForm):
    contact_ids = SelectMultipleField("Contacts", coerce=int, validate_choice=False)
    role = SelectField("Role", choices=enum_choices(ParticipantRole))
    action = SelectField(
        "Add as", choices=[("register", "Registered"), ("invite", "Invited")], default="register"
    )


class WalkInForm(VersionedForm):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=100)])
    email = StringField("Email", validators=[Optional(), Length(max=254), check_email])
    organization = StringField("Organization", validators=[Optional(), Length(max=200)])


class PublicRegistrationForm(VersionedForm):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=100)])
    email = required_email()
    organization = StringField("Organization", validators=[Optional(), Length(max=200)])
    consent = BooleanField(
        "Email me news from the WEST Principles community (you can unsubscribe at any time)"
    )
    website = HoneypotField()
