"""Writes `docs/reference/settings.md`, the reference of every setting, from their declarations
in `config.py`: `python -m crm.settings_reference`. A test fails when the committed file is out
of date, so a setting is documented the day it is added."""

from __future__ import annotations

import sys
from pathlib import Path

import config
from config import CONFIG_NAME, CONFIGS, TOPICS, BaseConfig, ProductionConfig, Setting

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference" / "settings.md"

INTRODUCTION = """\
# Settings

<!-- Generated from config.py by `python -m crm.settings_reference`: edit the settings there. -->

Every setting is an environment variable, read when a process starts (the web server, a
worker, a `flask` command). In production give every machine the same ones, for example in
`/etc/west-crm/env`; with `make run`, a `.env` file of `KEY=value` lines, if there is one, adds
them to both processes. An empty value counts as unset.

A value that is not what its setting takes stops the process at start-up with a message naming
the variable, for example `CRM_PAGE_SIZE must be a whole number, 1 or more; it is 'fifty'.`
The production configuration (`CRM_CONFIG=production`) also refuses to start without
{required}, and wants a `SECRET_KEY` of {min_length} characters or more.
"""


def _required_in_production() -> list[str]:
    return [getattr(ProductionConfig, name).env for name in ProductionConfig.required]


def _markdown(text: str) -> str:
    """`text` for a table cell: pipes escaped, and angle brackets outside code spans (an
    address such as <advocacy@example.org> would otherwise be read as a link or HTML)."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _default(setting: Setting) -> str:
    if setting.default_text is not None:
        text = setting.default_text
    elif setting.default is None:
        text = "unset"
    elif isinstance(setting.default, bool):
        text = f"`{str(setting.default).lower()}`"
    else:
        text = f"`{setting.default}`"
    if setting.env in _required_in_production():
        text += "; required in production"
    return text


def _row(setting: Setting, only: str | None) -> str:
    what = setting.help + (f" Read by the {only} configuration only." if only else "")
    cells = (f"`{setting.env}`", setting.kind.expects, _default(setting), what)
    return "| " + " | ".join(_markdown(cell) for cell in cells) + " |"


def _settings() -> list[tuple[Setting, str | None]]:
    """Each environment variable once and, when only some configurations read it, which: the
    base declarations first, then the others'."""
    seen: dict[str, tuple[Setting, str | None]] = {CONFIG_NAME.env: (CONFIG_NAME, None)}
    for setting in config.settings_of(BaseConfig).values():
        seen.setdefault(setting.env, (setting, None))
    for cls in CONFIGS.values():
        for setting in config.settings_of(cls).values():
            if not setting.pinned and setting.env not in seen:
                readers = [
                    label
                    for label, other in CONFIGS.items()
                    if any(s.env == setting.env for s in config.settings_of(other).values())
                ]
                seen[setting.env] = (setting, " and ".join(readers))
    return list(seen.values())


def render() -> str:
    required = _required_in_production()
    lines = [
        INTRODUCTION.format(
            required=", ".join(f"`{env}`" for env in required[:-1]) + f" and `{required[-1]}`",
            min_length=ProductionConfig.secret_key_min_length,
        )
    ]
    settings = _settings()
    for topic in TOPICS:
        rows = [_row(*item) for item in settings if item[0].topic == topic]
        if not rows:
            continue
        lines += [
            f"## {topic}",
            "",
            "| variable | takes | default | what it does |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(render())
    print(f"Wrote {REFERENCE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
