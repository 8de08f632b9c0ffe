"""Campaign pages for the team: segments (the builder), campaigns (compose, preview, test,
send or schedule, cancel) and what the outbox did."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.audit.operations import trail_for
from crm.campaigns import counting, delivery, queries, rendering, segments
from crm.campaigns.forms import CampaignForm, ScheduleForm, SegmentForm
from crm.campaigns.models import Campaign, MessageStatus, Segment
from crm.campaigns.operations import editing as campaign_ops
from crm.campaigns.operations import saved_segments as segment_ops
from crm.campaigns.operations import scheduling as schedule_ops
from crm.campaigns.operations import sending as send_ops
from crm.consultations.queries import not_answered
from crm.contacts.models import Contact
from crm.core.access import Permission, has_permission, requires
from crm.core.form_pages import submit_form
from crm.core.mail import queue_mail
from crm.core.unit_of_work import attempt
from crm.events.models import Event
from crm.extensions import db

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

SAMPLE_SIZE = 10
RECIPIENTS_LISTED = 500


def _sees_recipients() -> bool:
    """Who a campaign went to is for leads (volunteers too with CRM_VOLUNTEERS_SEE_RECIPIENTS):
    the others see its figures."""
    return has_permission(current_user, Permission.CAMPAIGN_RECIPIENTS)


def _campaign(campaign_id: int) -> Campaign:
    return db.session.get(Campaign, campaign_id) or abort(404)


def _segment(segment_id: int) -> Segment:
    return db.session.get(Segment, segment_id) or abort(404)


# --- segments --------------------------------------------------------------------------------


def _segment_form(segment: Segment | None = None) -> SegmentForm:
    if segment is not None and request.method == "GET":
        form = SegmentForm(
            data={
                **segment.criteria,
                "name": segment.name,
                "description": segment.description,
                "version": str(segment.version),
            }
        )
        form.event_id.data = str(segment.criteria.get("event_id") or "")
    else:
        form = SegmentForm()
    form.tags.choices = queries.tag_choices()
    form.countries.choices = queries.countries()
    form.event_id.choices = queries.event_choices()
    return form


def _criteria_from(form: SegmentForm) -> segments.Criteria:
    return segments.Criteria(
        tags=form.tags.data or [],
        organization_kinds=form.organization_kinds.data or [],
        countries=form.countries.data or [],
        regions=form.regions.data or [],
        champion_stages=form.champion_stages.data or [],
        pledge_statuses=form.pledge_statuses.data or [],
        event_id=form.event_id.data or None,
        event_participation=form.event_participation.data or "registered",
        consent_only=bool(form.consent_only.data),
    )


def _builder(form: SegmentForm, segment: Segment | None):
    """Preview (count and sample) or save, by the button pressed."""
    preview = None
    status = 200
    if request.method == "POST" and form.validate():
        saving = request.form.get("action") == "save"

        def save_or_preview():
            criteria = segments.clean_criteria(_criteria_from(form))
            if not saving:
                return _preview(criteria)
            fields = segment_ops.SegmentFields(
                name=form.name.data, description=form.description.data, criteria=criteria
            )
            if segment is None:
                return segment_ops.create_segment(current_user, fields)
            segment_ops.update_segment(
                current_user, segment, fields, expected_version=form.loaded_version()
            )
            return segment

        done = attempt(save_or_preview, form)
        if done.conflict:
            flash(done.error.message, "danger")
            status = 409
        elif not done.ok:
            status = 422
        elif saving:
            flash(f"Segment “{done.value.name}” is saved.", "success")
            return redirect(url_for("campaigns.segment", segment_id=done.value.id))
        else:
            preview = done.value
    elif request.method == "POST":
        status = 422
    elif segment is not None:
        preview = _preview(segments.Criteria.from_dict(segment.criteria))
    else:
        preview = _preview(segments.Criteria())
    return render_template(
        "campaigns/segment_form.html", form=form, segment=segment, preview=preview
    ), status


def _preview(criteria: segments.Criteria) -> dict:
    # Counted up to the lists' cap: a segment of a million people is "more than 10,000" here
    # (the send counts its recipients exactly, in the worker).
    cap = current_app.config["COUNT_CAP"]
    count = segments.count(criteria, cap)
    mailable = segments.mailable_count(criteria, cap)
    return {
        "count": count,
        "count_label": f"more than {cap:,}" if count > cap else f"{count:,}",
        "mailable_label": f"more than {cap:,}" if mailable > cap else f"{mailable:,}",
        "sample": segments.sample(criteria, SAMPLE_SIZE) if _sees_recipients() else None,
    }


@bp.route("/segments/")
@requires(Permission.CAMPAIGNS_VIEW)
def segments_index():
    return render_template("campaigns/segments.html", segments=queries.all_segments())


@bp.route("/segments/new", methods=["GET", "POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def new_segment():
    return _builder(_segment_form(), None)


@bp.route("/segments/<int:segment_id>")
@requires(Permission.CAMPAIGNS_VIEW)
def segment(segment_id: int):
    seg = _segment(segment_id)
    criteria = segments.Criteria.from_dict(seg.criteria)
    return render_template(
        "campaigns/segment.html",
        segment=seg,
        criteria=criteria,
        preview=_preview(criteria),
        event=db.session.get(Event, criteria.event_id) if criteria.event_id else None,
        participation_label=segments.EVENT_PARTICIPATION_LABELS.get(criteria.event_participation),
        trail=trail_for("segment", seg.id),
    )


@bp.route("/segments/<int:segment_id>/edit", methods=["GET", "POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def edit_segment(segment_id: int):
    seg = _segment(segment_id)
    return _builder(_segment_form(seg), seg)


@bp.route("/segments/<int:segment_id>/delete", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def delete_segment(segment_id: int):
    seg = _segment(segment_id)
    if not attempt(lambda: segment_ops.delete_segment(current_user, seg)).ok:
        return redirect(url_for("campaigns.segment", segment_id=segment_id))
    flash("The segment is deleted.", "success")
    return redirect(url_for("campaigns.segments_index"))


# --- campaigns -------------------------------------------------------------------------------


def _campaign_form(campaign: Campaign | None = None) -> CampaignForm:
    form = CampaignForm(obj=campaign) if request.method == "GET" else CampaignForm()
    if request.method == "GET":
        if campaign is not None:
            form.version.data = str(campaign.version)
            form.segment_id.data = str(campaign.segment_id or "")
            form.event_id.data = str(campaign.event_id or "")
            form.consultation_id.data = str(campaign.consultation_id or "")
        else:
            form.sender_name.data = current_user.name
            form.sender_email.data = current_user.email
            form.segment_id.data = request.args.get("segment_id", "")
    form.segment_id.choices = queries.segment_choices()
    form.event_id.choices = queries.event_choices()
    form.consultation_id.choices = queries.consultation_choices(
        campaign.consultation_id if campaign is not None else None
    )
    return form


def _campaign_fields(form: CampaignForm) -> campaign_ops.CampaignFields:
    return campaign_ops.CampaignFields(
        name=form.name.data,
        purpose=form.purpose.data,
        segment_id=form.segment_id.data or None,
        event_id=form.event_id.data or None,
        consultation_id=form.consultation_id.data or None,
        sender_name=form.sender_name.data,
        sender_email=form.sender_email.data,
        reply_to=form.reply_to.data,
        subject=form.subject.data,
        body=form.body.data,
    )


def _render_campaign_form(form, campaign, status: int, conflict: bool = False):
    return render_template(
        "campaigns/form.html",
        form=form,
        campaign=campaign,
        fields=rendering.FIELDS,
        conflict=conflict,
    ), status


@bp.route("/")
@requires(Permission.CAMPAIGNS_VIEW)
def index():
    campaigns = queries.all_campaigns()
    return render_template(
        "campaigns/index.html",
        campaigns=campaigns,
        counts=counting.stored([c.id for c in campaigns]),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def new():
    form = _campaign_form()
    saved = submit_form(
        form, lambda: campaign_ops.create_campaign(current_user, _campaign_fields(form))
    )
    if saved.ok:
        flash(f"{saved.value.name} is saved as a draft.", "success")
        return redirect(url_for("campaigns.detail", campaign_id=saved.value.id))
    return _render_campaign_form(form, None, saved.status)


@bp.route("/<int:campaign_id>")
@requires(Permission.CAMPAIGNS_VIEW)
def detail(campaign_id: int):
    campaign = _campaign(campaign_id)
    would_leave_out = None
    if campaign.status in (campaign.status.DRAFT, campaign.status.SCHEDULED) and (
        campaign.segment or campaign.consultation
    ):
        would_leave_out = send_ops.left_out_preview(campaign)
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        counts=queries.message_counts([campaign.id])[campaign.id],
        would_leave_out=would_leave_out,
        reasons=send_ops.LEFT_OUT_REASONS,
        sees_recipients=_sees_recipients(),
        schedule_form=ScheduleForm(),
        stats=queries.stats(campaign) if campaign.queued_at else None,
        rate=queries.rate,
        links=queries.link_clicks(campaign) if campaign.queued_at else [],
        timeline=queries.timeline(campaign) if campaign.queued_at else [],
        trail=trail_for("campaign", campaign.id),
    )


@bp.route("/<int:campaign_id>/recipients")
@requires(Permission.CAMPAIGN_RECIPIENTS)
def recipients(campaign_id: int):
    campaign = _campaign(campaign_id)
    status = request.args.get("status", "")
    listed = queries.recipients(campaign, status, RECIPIENTS_LISTED) if campaign.queued_at else []
    return render_template(
        "campaigns/recipients.html",
        campaign=campaign,
        recipients=listed,
        recipient_events=queries.events_of(listed),
        status_filter=status,
        statuses=list(MessageStatus),
        limit=RECIPIENTS_LISTED,
    )


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def edit(campaign_id: int):
    campaign = _campaign(campaign_id)
    if not campaign.editable:
        flash(
            f"This campaign is {campaign.status.label.lower()}, so it can no longer be changed.",
            "warning",
        )
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    form = _campaign_form(campaign)
    saved = submit_form(
        form,
        lambda: campaign_ops.update_campaign(
            current_user, campaign, _campaign_fields(form), expected_version=form.loaded_version()
        ),
        record=campaign,
    )
    if saved.ok:
        flash("The campaign is saved.", "success")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return _render_campaign_form(form, campaign, saved.status, conflict=saved.conflict)


def _preview_contact(campaign: Campaign) -> Contact | None:
    raw = request.values.get("contact_id", "")
    if raw.isdigit():
        contact = db.session.get(Contact, int(raw))
        if contact is not None and contact.erased_at is None:
            return contact
    sample = _candidates(campaign, 1)
    return sample[0] if sample else None


def _candidates(campaign: Campaign, limit: int) -> list[Contact]:
    """Who a preview can show it as: the segment's people, or those a reminder goes to."""
    if campaign.segment is not None:
        return segments.sample(segments.Criteria.from_dict(campaign.segment.criteria), limit)
    if campaign.consultation is not None:
        return not_answered(campaign.consultation, limit=limit)
    return []


@bp.route("/<int:campaign_id>/preview")
@requires(Permission.CAMPAIGNS_VIEW)
def preview(campaign_id: int):
    campaign = _campaign(campaign_id)
    contact, candidates = None, []
    if _sees_recipients():  # else shown with blank fields: the people are not theirs to see
        contact = _preview_contact(campaign)
        candidates = _candidates(campaign, 50)
        if contact is not None and contact not in candidates:
            candidates.insert(0, contact)
    message = delivery.single_message(
        campaign, contact.email if contact and contact.email else "someone@example.org", contact
    )
    return render_template(
        "campaigns/preview.html",
        campaign=campaign,
        contact=contact,
        candidates=candidates,
        message=message,
        sees_recipients=_sees_recipients(),
    )


@bp.route("/<int:campaign_id>/test", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def send_test(campaign_id: int):
    campaign = _campaign(campaign_id)
    contact = _preview_contact(campaign)
    message = delivery.single_message(
        campaign, current_user.email, contact, subject_prefix="[Test] "
    )
    queue_mail(message, actor=current_user)  # the worker sends it once this request commits
    who = f" as {contact.full_name} would see it" if contact else ""
    flash(f"A test is on its way to {current_user.email}{who}.", "success")
    return redirect(
        url_for(
            "campaigns.preview", campaign_id=campaign.id, contact_id=contact.id if contact else None
        )
    )


def _act(campaign: Campaign, action, success: str):
    done = attempt(action)
    if done.ok:
        flash(success.format(result=done.value), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/send", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def send_now(campaign_id: int):
    campaign = _campaign(campaign_id)

    def queue():
        return send_ops.queue_campaign(current_user, campaign).queued

    return _act(campaign, queue, "Queued for {result} recipients; the worker is sending it.")


@bp.route("/<int:campaign_id>/schedule", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def schedule(campaign_id: int):
    from datetime import UTC

    campaign = _campaign(campaign_id)
    form = ScheduleForm()
    if not form.validate():
        flash("Give the date and time to send it (UTC).", "danger")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    when = form.scheduled_at.data.replace(tzinfo=UTC)
    return _act(
        campaign,
        lambda: schedule_ops.schedule_campaign(current_user, campaign, when),
        f"Scheduled for {when:%d %b %Y %H:%M} UTC.",
    )


@bp.route("/<int:campaign_id>/unschedule", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def unschedule(campaign_id: int):
    campaign = _campaign(campaign_id)
    return _act(
        campaign,
        lambda: schedule_ops.unschedule_campaign(current_user, campaign),
        "Back to draft; it will not be sent until you send or schedule it again.",
    )


@bp.route("/<int:campaign_id>/cancel", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def cancel(campaign_id: int):
    campaign = _campaign(campaign_id)
    return _act(
        campaign,
        lambda: schedule_ops.cancel_campaign(current_user, campaign),
        "Cancelled; {result} queued messages will not be sent.",
    )


@bp.route("/<int:campaign_id>/delete", methods=["POST"])
@requires(Permission.CAMPAIGNS_EDIT)
def delete(campaign_id: int):
    campaign = _campaign(campaign_id)
    if not attempt(lambda: campaign_ops.delete_campaign(current_user, campaign)).ok:
        return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    flash("The campaign is deleted.", "success")
    return redirect(url_for("campaigns.index"))
