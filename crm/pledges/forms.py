from __future__ import annotations

from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional

from crm.core.forms import (
    CountryField,
    HoneypotField,
    VersionedForm,
    enum_choices,
    required_email,
)
from crm.organizations.forms import OrganizationNameField
from crm.organizations.models import OrganizationKind


class PledgeForm(VersionedForm):
    organization = OrganizationNameField(required=True)
    contact_ids = SelectMultipleField("Signatory", coerce=int, validate_choice=False)
    signed_on = DateField("Signed on", validators=[Optional()])
    listed = BooleanField("Listed in the public directory (the organization agreed)")


class DetailsForm(VersionedForm):
    contact_ids = SelectMultipleField("Signatory", coerce=int, validate_choice=False)
    signed_on = DateField("Signed on", validators=[Optional()])
    listed = BooleanField("Listed in the public directory (the organization agreed)")


class ReasonForm(VersionedForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class MoveForm(VersionedForm):
    standard_id = SelectField("Move to version", choices=[], validate_choice=False)


class QuarterForm(VersionedForm):
    quarter = SelectField("Quarter", choices=[], validate_choice=False)


class PublicPledgeForm(VersionedForm):
    organization = StringField("Organization", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind of organization", choices=enum_choices(OrganizationKind))
    country = CountryField("Country (headquarters)")
    website = StringField("Website", validators=[Optional(), Length(max=300)])
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=100)])
    title = StringField("Your role", validators=[Optional(), Length(max=150)])
    email = required_email("Work email")
    listed = BooleanField("List our organization in the public directory of signatories")
    confirm = BooleanField(
        "I am authorized to commit my organization to the WEST Principles",
        validators=[DataRequired(message="Please confirm you can sign for the organization.")],
    )
    website_url = HoneypotField()  # `website` is the organization's
