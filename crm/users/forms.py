from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from crm.auth.models import Role
from crm.core.forms import enum_choices


class UserForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=enum_choices(Role))
    contact_id = IntegerField(
        "Linked contact (id)",
        validators=[Optional()],
        description="For a champion: the contact record that is this person.",
    )
    organization_id = IntegerField(
        "Linked organization (id)",
        validators=[Optional()],
        description="For an organization representative: the organization they speak for.",
    )
    active = BooleanField("Active", default=True)
