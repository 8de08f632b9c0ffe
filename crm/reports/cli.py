"""`flask crm report --quarter 2026Q3 --format xlsx|csv|pdf|html -o PATH [--section NAME]`"""

from __future__ import annotations

from pathlib import Path

import click
from flask import render_template
from flask.cli import with_appcontext

from crm.core.write_lock import only_reads
from crm.reports import render
from crm.reports.build import build_report, not_begun, parse_quarter

OUTPUT_HELP = (
    "The file to write. For csv: a .zip holds every section; a .csv holds the one named "
    "by --section; any other path is a folder, made if need be, with a file per section. "
    "For a quarter still under way, a README.txt beside the CSV files says the figures are "
    "partial."
)


@click.command("report")
@with_appcontext
@click.option("--quarter", "quarter_text", required=True, help="e.g. 2026Q3; one that has begun")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "pdf", "html"]), default="xlsx")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help=OUTPUT_HELP)
@click.option("--section", help="With --format csv and -o FILE.csv: the section, e.g. pledges.")
def report_command(quarter_text: str, fmt: str, output: Path, section: str | None):
    """Write the quarterly adoption report."""
    only_reads()  # it reads the database and writes a file: no need of the write lock
    try:
        quarter = parse_quarter(quarter_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from None
    refusal = not_begun(quarter)
    if refusal:
        raise click.BadParameter(refusal, param_hint="--quarter")
    if section and fmt != "csv":
        raise click.BadParameter("only a CSV holds a single section.", param_hint="--section")
    report = build_report(quarter)
    if fmt == "csv":
        _write_csv(report, output, section)
        return

    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        output.write_bytes(render.xlsx_bytes(report))
    elif fmt == "pdf":
        output.write_bytes(render.pdf_bytes(report))
    else:
        output.write_text(render_template("reports/standalone.html", report=report))
    click.echo(f"{report.title} written to {output}{_partial(report)}")


def _partial(report) -> str:
    return " (the quarter is still under way: figures so far)" if report.in_progress else ""


def _write_csv(report, output: Path, section: str | None) -> None:
    suffix = output.suffix.lower()
    if suffix == ".csv":
        names = ", ".join(render.slug(s) for s in report.sections)
        if not section:
            raise click.BadParameter(
                f"a .csv file holds one section: name it with --section ({names}), or write "
                "every section to a .zip or a folder.",
                param_hint="-o",
            )
        found = render.section_by_slug(report, render.slug(section))
        if found is None:
            raise click.BadParameter(
                f"no section “{section}”; one of {names}.", param_hint="--section"
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(render.csv_bytes(found[1]))
        click.echo(f"{found[0]} of {report.title} written to {output}{_partial(report)}")
        return
    if section:
        raise click.BadParameter("--section goes with -o FILE.csv.", param_hint="--section")
    files = render.csv_files(report)
    if suffix == ".zip":
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(render.zip_bytes(files))
        where = f"the archive {output}"
    else:
        output.mkdir(parents=True, exist_ok=True)
        for name, body in files.items():
            (output / name).write_bytes(body)
        where = str(output)
    click.echo(f"{len(report.sections)} CSV files written to {where}{_partial(report)}")
