"""`flask crm report --quarter 2026Q3 --format xlsx|csv|pdf|html -o PATH`"""

from __future__ import annotations

from pathlib import Path

import click
from flask import render_template
from flask.cli import with_appcontext


@click.command("report")
@with_appcontext
@click.option("--quarter", "quarter_text", required=True, help="e.g. 2026Q3")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "pdf", "html"]), default="xlsx")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="A file; for csv, a folder (one file per section).")  # fmt: skip
def report_command(quarter_text: str, fmt: str, output: Path):
    """Write the quarterly adoption report."""
    from crm.reports import render
    from crm.reports.build import build_report, parse_quarter

    try:
        quarter = parse_quarter(quarter_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from None
    report = build_report(quarter)
    if fmt == "csv":
        output.mkdir(parents=True, exist_ok=True)
        for section, frame in report.sections.items():
            (output / f"{render.slug(section)}.csv").write_bytes(render.csv_bytes(frame))
        click.echo(f"{len(report.sections)} CSV files written to {output}")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        output.write_bytes(render.xlsx_bytes(report))
    elif fmt == "pdf":
        output.write_bytes(render.pdf_bytes(report))
    else:
        output.write_text(render_template("reports/standalone.html", report=report))
    click.echo(f"{report.title} written to {output}")
