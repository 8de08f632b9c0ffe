"""Background work: a job table, one worker command, and the periodic schedule.

from crm.core.jobs import enqueue, handler, periodic
"""

from crm.core.jobs.models import Job, JobStatus, JobWorker
from crm.core.jobs.queue import cancel, enqueue, retry
from crm.core.jobs.registry import handler, periodic
from crm.core.jobs.worker import JobContext, Retry

__all__ = [
    "Job",
    "JobContext",
    "JobStatus",
    "JobWorker",
    "Retry",
    "cancel",
    "enqueue",
    "handler",
    "periodic",
    "retry",
]
