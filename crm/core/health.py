"""The health check a load balancer or process manager polls."""

from __future__ import annotations

from flask import Blueprint

from crm.core.access import public

bp = Blueprint("core", __name__)


@bp.route("/healthz")
@public
def healthz():
    return {"status": "ok"}
