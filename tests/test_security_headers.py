"""The Content-Security-Policy allows no inline styles, so no page may carry one.

Styles come from static/css only; scripts may still set `element.style` (CSSOM is not
covered by style-src). The one exception is the standalone quarterly report, a file the CLI
writes for people to open offline, where no header of ours applies.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
# Written to disk by `flask crm report` and opened from the file system: no CSP applies.
OFFLINE_FILE = "reports/standalone.html"
INLINE_STYLE = re.compile(r"(?<![\w-])style\s*=|<style\b", re.IGNORECASE)


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in directives}


def test_policy_has_no_unsafe_inline_anywhere(client, as_role):
    for response in (client.get("/login"), (as_role("lead"), client.get("/"))[1]):
        csp = _csp(response)
        assert csp["style-src"] == ["'self'"]
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


def test_no_template_carries_an_inline_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name == OFFLINE_FILE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE_STYLE.search(line):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert found == [], "inline styles are refused by the CSP; use a class:\n" + "\n".join(found)


def test_the_page_with_a_style_block_is_only_written_to_a_file():
    users = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "crm").rglob("*.py")
        if OFFLINE_FILE in path.read_text()
    ]
    assert users == ["crm/reports/cli.py"]


class _InlineStyles(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "style" or any(name == "style" for name, _ in attrs):
            self.found.append(self.get_starttag_text() or tag)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/contacts/",
        "/organizations/",
        "/campaigns/",
        "/campaigns/new",
        "/consultations/",
        "/imports/",
    ],
)
def test_main_pages_render_without_inline_styles(client, as_role, url):
    as_role("admin")
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200
    parser = _InlineStyles()
    parser.feed(response.get_data(as_text=True))
    assert parser.found == []
