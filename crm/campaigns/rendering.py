"""Campaign templates: staff write them, so they render in a Jinja sandbox with only the merge
fields given, and an unknown field is refused when the campaign is saved.

For speed, a body that uses fields only as plain `{{ field }}` outputs renders once with a
substitution tag in place of each field ("shared" content; SendGrid fills the tags per
recipient); a body with logic (`{% if organization %}`) renders per recipient.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from crm.core.errors import OperationError

# The merge fields and what each holds, shown next to the editor.
FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "email": "Email address",
    "organization": "Organization name (empty when none)",
    "country": "Country name (empty when unknown)",
    "event_name": "The campaign's event (empty when none)",
    "event_url": "Link to the event's public page",
    "pledge_url": "Link to the public pledge form",
    "consultation_url": "The person's own link to answer the campaign's consultation",
    "unsubscribe_url": "One-click unsubscribe link (added at the foot when not used)",
}

SAMPLE = {
    "first_name": "Amara",
    "last_name": "Mensah",
    "full_name": "Amara Mensah",
    "email": "amara@example.org",
    "organization": "Sunrise Knitwear",
    "country": "Ghana",
    "event_name": "Dhaka roundtable",
    "event_url": "https://example.org/e/1",
    "pledge_url": "https://example.org/pledge/",
    "consultation_url": "https://example.org/c/1/r/token",
    "unsubscribe_url": "https://example.org/u/token",
}

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.globals.clear()  # nothing but the fields given: no range, lipsum, cycler, dict, ...

# What a campaign template may contain: text, fields, conditions and a few text filters.
# No loops, calls, includes, indexing or arithmetic: nothing that can hang, grow without end,
# or fail for one person's data (an empty name, say) after the campaign was checked.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If,
    nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Filter, nodes.CondExpr,
    nodes.Concat, nodes.Test,
)  # fmt: skip
_ALLOWED_FILTERS = {"upper", "lower", "title", "capitalize", "trim", "default", "d", "e", "escape"}
_ALLOWED_TESTS = {"defined", "undefined", "none", "string", "eq", "ne", "equalto"}
_MARK = "\x00"
_URL = re.compile(r"(https?://[^\s<]+)")
# Fields the same for every recipient of a campaign, filled in before rendering.
CAMPAIGN_FIELDS = ("event_name", "event_url", "pledge_url")


def tag(name: str, *, as_html: bool = False) -> str:
    """The substitution tag SendGrid replaces per recipient."""
    return f"%%{name}{'!h' if as_html else ''}%%"


@lru_cache(maxsize=64)
def _compile(source: str):
    return _ENV.from_string(source)


def check(source: str, field: str, label: str) -> None:
    """Refuse a template that does not compile or uses anything but the merge fields, in any
    branch (checked on the template itself, not on one sample's rendering)."""
    try:
        tree = _ENV.parse(source)
        declared = meta.find_undeclared_variables(tree)
    except TemplateError as exc:
        raise OperationError(f"{label}: {_explain(exc)}", field=field) from None
    unknown = sorted(declared - FIELDS.keys())
    if unknown:
        raise OperationError(
            f"{label}: there is no merge field “{unknown[0]}”. Use one of: {', '.join(FIELDS)}.",
            field=field,
        )
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise OperationError(
                f"{label}: templates can use the merge fields only, with text and "
                f"{{% if %}} conditions (not {type(node).__name__.lower()}).",
                field=field,
            )
        if isinstance(node, nodes.Filter) and node.name not in _ALLOWED_FILTERS:
            raise OperationError(
                f"{label}: the filter “{node.name}” is not available; use one of "
                f"{', '.join(sorted(_ALLOWED_FILTERS))}.",
                field=field,
            )
        if isinstance(node, nodes.Test) and node.name not in _ALLOWED_TESTS:
            raise OperationError(f"{label}: the test “{node.name}” is not available.", field=field)
    try:
        _compile(source).render(**SAMPLE)
    except Exception as exc:  # noqa: BLE001 -- anything else is a template the user must fix
        message = _explain(exc) if isinstance(exc, TemplateError) else str(exc)
        raise OperationError(f"{label}: {message}", field=field) from None


def _explain(exc: TemplateError) -> str:
    text = str(exc.message or exc)
    match = re.search(r"'(\w+)' is undefined", text)
    if match:
        return f"there is no merge field “{match.group(1)}”. Use one of: {', '.join(FIELDS)}."
    if "unsafe" in text or "access" in text:
        return "templates can use the merge fields only."
    line = getattr(exc, "lineno", None)
    return f"{text}{f' (line {line})' if line else ''}."


@lru_cache(maxsize=64)
def is_shared(source: str) -> bool:
    """True when fields appear only as bare `{{ name }}` outputs (no logic, no filters)."""
    tree = _ENV.parse(source)
    allowed = set()
    for output in tree.find_all(nodes.Output):
        for node in output.nodes:
            if isinstance(node, nodes.Name):
                allowed.add(id(node))
    for body_node in tree.body:
        if not isinstance(body_node, nodes.Output):
            return False
    return all(id(name) in allowed for name in tree.find_all(nodes.Name))


def render(source: str, values: dict[str, str]) -> str:
    return _compile(source).render(**values)


def renderer(source: str) -> Callable[[dict[str, str]], str]:
    """`render` for many people: a template of bare fields (a subject, usually) renders once
    with a mark in place of each field, then each person's values go in by one replacement
    pass (a value is never read again for marks); a template with logic renders each time."""
    if not is_shared(source):
        return lambda values: render(source, values)
    marked = render(source, {name: f"{_MARK}{name}{_MARK}" for name in FIELDS})
    marks = re.compile(f"{_MARK}(\\w+){_MARK}")
    return lambda values: marks.sub(lambda m: values[m.group(1)], marked)


def text_to_html(text: str) -> str:
    """Paragraphs and links from plain text, everything escaped."""
    parts = []
    for para in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(para)
        escaped = _URL.sub(r'<a href="\1">\1</a>', escaped)
        parts.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return "\n".join(parts)


@dataclass
class Content:
    text: str
    html: str


FOOTER = (
    "\n\n--\nYou receive this because you agreed to hear from the WEST Principles community."
    "\nUnsubscribe: {unsubscribe}\n"
)


def _with_footer(body: str, unsubscribe: str, source: str) -> str:
    if "unsubscribe_url" in source:
        return body
    return body.rstrip("\n") + FOOTER.format(unsubscribe=unsubscribe)


def shared_content(source: str, campaign_values: dict[str, str]) -> Content:
    """The body once, with a tag (text) and an HTML tag for each per-person field."""
    values = {
        name: (campaign_values[name] if name in CAMPAIGN_FIELDS else f"{_MARK}{name}{_MARK}")
        for name in FIELDS
    }
    body = _with_footer(render(source, values), f"{_MARK}unsubscribe_url{_MARK}", source)
    marker = re.compile(f"{_MARK}(\\w+){_MARK}")
    text = marker.sub(lambda m: tag(m.group(1)), body)
    html_body = marker.sub(lambda m: tag(m.group(1), as_html=True), text_to_html(body))
    return Content(text=text, html=html_body)


def personal_content(source: str, values: dict[str, str]) -> Content:
    """The body for one person; only the unsubscribe link stays a tag."""
    body = _with_footer(
        render(source, {**values, "unsubscribe_url": f"{_MARK}unsubscribe_url{_MARK}"}),
        f"{_MARK}unsubscribe_url{_MARK}",
        source,
    )
    marker = f"{_MARK}unsubscribe_url{_MARK}"
    return Content(
        text=body.replace(marker, tag("unsubscribe_url")),
        html=text_to_html(body)
        .replace(html.escape(marker), tag("unsubscribe_url", as_html=True))
        .replace(marker, tag("unsubscribe_url", as_html=True)),
    )


def used_fields(content: Content) -> frozenset[str]:
    """The fields whose tags `content` holds: a person's other values need not be sent."""
    return frozenset(
        name
        for name in FIELDS
        if tag(name) in content.text or tag(name, as_html=True) in content.html
    )


def substitutions(values: dict[str, str], only: frozenset[str] | None = None) -> dict[str, str]:
    """Each field's tag (text and HTML) and the person's value; `only` those fields."""
    subs = {}
    for name in values if only is None else only:  # `only`: a few fields, not every value
        if name in CAMPAIGN_FIELDS or name not in values:
            continue
        value = values[name]
        text_tag, html_tag = _TAGS[name]
        subs[text_tag] = value
        escaped = html.escape(value)
        # Links are links in the HTML part, as the text's own web addresses are.
        is_link = name.endswith("_url") and value.startswith(("https://", "http://"))
        subs[html_tag] = f'<a href="{escaped}">{escaped}</a>' if is_link else escaped
    return subs


_TAGS = {name: (tag(name), tag(name, as_html=True)) for name in FIELDS}


def fill(content: Content, subs: dict[str, str]) -> Content:
    """What SendGrid does with the tags: used by the file provider, previews and tests."""
    pattern = re.compile("|".join(re.escape(k) for k in sorted(subs, key=len, reverse=True)))
    if not subs:
        return content
    return Content(
        text=pattern.sub(lambda m: subs[m.group(0)], content.text),
        html=pattern.sub(lambda m: subs[m.group(0)], content.html),
    )
