from __future__ import annotations

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from crm.campaigns.models import Purpose
from crm.campaigns.segments import EVENT_PARTICIPATION_LABELS, NO_PLEDGE
from crm.champions.models import Region, Stage
from crm.core.forms import VersionedForm, check_email, enum_choices
from crm.core.regions import COUNTRIES_BY_REGION
from crm.organizations.models import OrganizationKind
from crm.pledges.models import Standing


class SegmentForm(VersionedForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    description = StringField("Description", validators=[Optional(), Length(max=500)])
    tags = SelectMultipleField("Tags", choices=[], validate_choice=False)
    organization_kinds = SelectMultipleField(
        "Organization kind", choices=enum_choices(OrganizationKind), validate_choice=False
    )
    countries = SelectMultipleField("Countries", choices=[], validate_choice=False)
    regions = SelectMultipleField(
        "Regions",
        choices=[(r.value, r.label) for r in Region if r.value in COUNTRIES_BY_REGION],
        validate_choice=False,
    )
    champion_stages = SelectMultipleField(
        "Champion stage", choices=enum_choices(Stage), validate_choice=False
    )
    pledge_statuses = SelectMultipleField(
        "Their organization's pledge",
        choices=[*enum_choices(Standing), (NO_PLEDGE, "No pledge")],
        validate_choice=False,
    )
    event_id = SelectField("Event", choices=[], validate_choice=False)
    event_participation = SelectField(
        "Took part as", choices=list(EVENT_PARTICIPATION_LABELS.items()), default="registered"
    )
    consent_only = BooleanField("Only people who agreed to email", default=True)


class CampaignForm(VersionedForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    purpose = SelectField("Purpose", choices=enum_choices(Purpose))
    segment_id = SelectField("Send to (segment)", choices=[], validate_choice=False)
    event_id = SelectField("Event it invites to", choices=[], validate_choice=False)
    consultation_id = SelectField("Consultation it links to", choices=[], validate_choice=False)
    sender_name = StringField("Sender name", validators=[DataRequired(), Length(max=100)])
    sender_email = StringField(
        "Sender address", validators=[DataRequired(), Length(max=254), check_email]
    )
    reply_to = StringField("Reply to", validators=[Optional(), Length(max=254), check_email])
    subject = StringField("Subject", validators=[DataRequired(), Length(max=300)])
    body = TextAreaField("Message", validators=[DataRequired(), Length(max=100_000)])


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class ScheduleForm(VersionedForm):
    scheduled_at = DateTimeLocalField(
        "Send at (UTC)",
        format=DATETIME_FORMATS,
        validators=[InputRequired(message="Give the date and time.")],
    )
