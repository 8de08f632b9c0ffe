"""The Jobs page (admins): what the workers are doing, what waits, what failed and why.

Retry and cancel are POSTs (CSRF-protected like every form) that call `crm.core.jobs.retry` and
`cancel`; a refusal (cancelling a running job, retrying a done one) is flashed, never a 500.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.core.access import Permission, requires
from crm.core.db import utcnow
from crm.core.jobs import listing, presence
from crm.core.jobs.display import summarize
from crm.core.jobs.models import Job, JobStatus
from crm.core.jobs.queue import cancel, retry
from crm.core.jobs.registry import describe, label_of
from crm.core.list_page import cursor, page_size
from crm.core.unit_of_work import attempt
from crm.extensions import db

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

OVERVIEW = (JobStatus.RUNNING, JobStatus.FAILED, JobStatus.QUEUED, JobStatus.DONE)
OVERVIEW_ROWS = 10


@bp.route("/")
@requires(Permission.JOBS)
def index():
    status = listing.parse_status(request.args.get("status"))
    kind = listing.parse_kind(request.args.get("kind"))
    workers = presence.workers_seen()
    counts = listing.counts(kind)
    page = sections = None
    if status is not None:
        page = listing.page_of(
            status,
            kind,
            **cursor(),
            page_size=page_size(),
            total=counts[status],
        )
        shown = page.items
    else:
        sections = [(s, listing.first(s, kind, OVERVIEW_ROWS)) for s in OVERVIEW]
        shown = [job for _, jobs in sections for job in jobs]
    running = _running_for(workers)
    return render_template(
        "jobs/index.html",
        status=status,
        kind=kind,
        kinds=listing.kind_options(),
        counts=counts,
        page=page,
        sections=sections,
        workers=workers,
        running=running,
        no_worker=presence.no_worker(workers),
        alive={w.name for w in workers},
        sqlite=presence.is_sqlite(),
        now=utcnow(),
        **_about(shown + [job for jobs in running.values() for job in jobs]),
    )


@bp.route("/<int:job_id>")
@requires(Permission.JOBS)
def detail(job_id: int):
    job = _job_or_404(job_id)
    workers = presence.workers_seen()
    return render_template(
        "jobs/detail.html",
        job=job,
        queued_by=job.created_by,
        payload=summarize(job.payload),
        result=summarize(job.result),
        checkpoint=summarize(job.checkpoint),
        no_worker=presence.no_worker(workers),
        alive={w.name for w in workers},
        **_about([job]),
    )


@bp.post("/<int:job_id>/retry")
@requires(Permission.JOBS)
def retry_job(job_id: int):
    job = _job_or_404(job_id)
    if attempt(lambda: retry(job, actor=current_user)).ok:
        flash(f"Job #{job.id} ({label_of(job.kind)}) is queued again.", "success")
    return redirect(_back(job))


@bp.post("/<int:job_id>/cancel")
@requires(Permission.JOBS)
def cancel_job(job_id: int):
    job = _job_or_404(job_id)
    if attempt(lambda: cancel(job, actor=current_user)).ok:
        flash(f"Job #{job.id} ({label_of(job.kind)}) is cancelled; it will not run.", "success")
    return redirect(_back(job))


def _job_or_404(job_id: int) -> Job:
    return db.session.get(Job, job_id) or abort(404)


def _back(job: Job) -> str:
    """Where the buttons were pressed: a page of the Jobs area only (never another site)."""
    target = request.form.get("next", "")
    home = url_for("jobs.index")
    if target.startswith(home) and "//" not in target and "\\" not in target:
        return target
    return url_for("jobs.detail", job_id=job.id)


def _running_for(workers: list[presence.SeenWorker]) -> dict[str, list[Job]]:
    """What each worker seen is running (the jobs whose lease it holds)."""
    if not workers:
        return {}
    jobs = db.session.scalars(
        sa.select(Job)
        .where(
            Job.status == JobStatus.RUNNING,
            Job.lease_holder.in_([w.name for w in workers]),
        )
        .order_by(Job.run_at, Job.id)
        .limit(100)
    )
    found: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        assert job.lease_holder is not None, "selected by their lease holder"
        found[job.lease_holder].append(job)
    return found


def _about(jobs: list[Job]) -> dict:
    """Each job's one-line description, and the progress of those running."""
    return {
        "lines": {job.id: describe(job.kind, job.payload) for job in jobs},
        "progress": {
            job.id: presence.progress_of(job) for job in jobs if job.status is JobStatus.RUNNING
        },
        "label_of": label_of,
    }
