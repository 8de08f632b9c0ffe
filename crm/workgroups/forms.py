from __future__ import annotations

from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.core.forms import VersionedForm, enum_choices
from crm.workgroups.models import MemberRole


class GroupForm(VersionedForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    purpose = TextAreaField("Purpose", validators=[Optional(), Length(max=5_000)])
    archived = BooleanField("Archived (no new tasks)")


class MemberForm(VersionedForm):
    user_id = SelectField("Person", choices=[], validate_choice=False)
    role = SelectField("Role", choices=enum_choices(MemberRole), validate_choice=False)


class TaskForm(VersionedForm):
    title = StringField("Task", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Details", validators=[Optional(), Length(max=10_000)])
    group_id = SelectField("Working group", choices=[], validate_choice=False)
    owner_id = SelectField("Owner", choices=[], validate_choice=False)
    due_on = DateField("Due", validators=[Optional()])
    record_type = HiddenField()
    record_id = HiddenField()
