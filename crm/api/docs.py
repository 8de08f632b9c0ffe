"""The API's OpenAPI document and its reference page (no token needed for either)."""

from __future__ import annotations

from flask import current_app, render_template

from crm.api.blueprint import EXTENSION, bp, docs_bp
from crm.core.access import public

PROBLEM = "application/problem+json"


@docs_bp.route("/openapi.json")
@public
def openapi_json():
    """This API's OpenAPI 3.1 document."""
    document = current_app.extensions[EXTENSION].spec.to_dict()
    # flask-smorest lists the blueprint as a tag; the operations are tagged by resource.
    document["tags"] = [t for t in document.get("tags", []) if t["name"] != bp.name]
    # Errors are RFC 9457 problem documents; flask-smorest documents every body as JSON.
    for response in document.get("components", {}).get("responses", {}).values():
        content = response.get("content", {})
        if "application/json" in content:
            content[PROBLEM] = content.pop("application/json")
    return document


@docs_bp.route("/docs")
@public
def reference():
    """The API's reference, read from the document (Swagger UI, from static/vendor)."""
    return render_template("api/reference.html")
