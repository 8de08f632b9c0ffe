from __future__ import annotations

from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from crm.core.forms import VersionedForm, enum_choices
from crm.engagements.models import EngagementKind
from crm.organizations.forms import OrganizationNameField


class EngagementForm(VersionedForm):
    kind = SelectField("Kind", choices=enum_choices(EngagementKind))
    occurred_on = DateField("Date", validators=[InputRequired(message="Give the date.")])
    summary = StringField("Summary", validators=[DataRequired(), Length(max=300)])
    heard = TextAreaField("What we heard", validators=[Optional(), Length(max=20_000)])
    organization = OrganizationNameField()
    contact_ids = SelectMultipleField("Contacts", coerce=int, validate_choice=False)
    follow_up_on = DateField("Follow up on", validators=[Optional()])
    follow_up_owner_id = SelectField("Follow-up owner", choices=[], validate_choice=False)
    follow_up_note = StringField("Follow-up note", validators=[Optional(), Length(max=300)])

    def __init__(self, *args, owner_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.follow_up_owner_id.choices = [("", "—"), *owner_choices]
