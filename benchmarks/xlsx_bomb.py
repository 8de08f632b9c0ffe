"""Refusing an XLSX decompression bomb beside reading a real workbook of the same size.

    .venv/bin/python benchmarks/xlsx_bomb.py [--unpacked-mb 290] [--rows 35000] [--shared-mb 19.5]
        [--unchecked]

Writes, in a temporary folder, a bomb (a sheet of `--unpacked-mb` megabytes of one repeated row,
deflated to about a megabyte, as the outside test's was) and a real contact list of `--rows`
rows (about a megabyte too), then, each in a process of its own so that peak memory is its own:

- bomb: `TableReader` on the bomb, as an upload is read (refused from the ZIP's directory);
- workbook: `TableReader` on the real list, its rows counted and every row read, as an import
  reads it;
- shared-strings: a workbook whose shared strings (every distinct text, which openpyxl holds
  in memory whole) unpack to `--shared-mb` megabytes, just under what is taken by default:
  the most memory a workbook that passes the check costs;
- with `--unchecked`, the bomb again with the ZIP check turned off: what refusing it cost
  before (minutes; the outside test measured 241 s for 290 MB).

Prints wall-clock and CPU time and peak memory (max RSS, `resource.getrusage`) for each, and
writes the report to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, cpu_reference_ms, git_revision  # noqa: E402

SHEET = "xl/worksheets/sheet1.xml"
ROW = (
    '<row><c t="inlineStr"><is><t>Ana</t></is></c>'
    '<c t="inlineStr"><is><t>ana@example.org</t></is></c></row>'
)


def write_workbook(path: Path, rows: int) -> None:
    import openpyxl

    random.seed(7)
    first = ["Ana", "Bo", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo"]
    last = ["Smith", "Ng", "Okafor", "Garcia", "Singh", "Kim", "Müller", "Rossi"]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["First name", "Last name", "Email", "Country", "Organization"])
    for n in range(rows):
        a, b = random.choice(first), random.choice(last)
        org = f"Org {n % 300}"
        sheet.append(
            [a, b, f"{a}.{b}{n}@example.org".lower(), random.choice(["KE", "BD", "IN", "US"]), org]
        )
    book.save(path)


def write_bomb(path: Path, unpacked_mb: int, template: Path) -> None:
    """The real workbook's parts with its sheet swapped for the bomb's, written in chunks."""
    source = zipfile.ZipFile(template)
    header = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        'First name</t></is></c><c r="B1" t="inlineStr"><is><t>Email</t></is></c></row>'
    )
    chunk = (ROW * (1024 * 1024 // len(ROW))).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename != SHEET:
                archive.writestr(info.filename, source.read(info.filename))
        with archive.open(SHEET, "w", force_zip64=True) as sheet:
            sheet.write(header.encode())
            for _ in range(unpacked_mb):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")


def write_shared_strings(path: Path, template: Path, megabytes: float) -> None:
    """A workbook whose shared strings (distinct texts, which openpyxl holds in memory whole)
    unpack to `megabytes`, its sheet using the first thousand."""
    source = zipfile.ZipFile(template)
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>{r - 1}</v></c><c r="B{r}" t="s"><v>{r}</v></c></row>'
        for r in range(1, 1001)
    )
    sheet = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'
    )
    relationship = (
        '<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    )
    override = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    rng = random.Random(1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == SHEET:
                data = sheet.encode()
            elif info.filename == "xl/_rels/workbook.xml.rels" and b"sharedStrings" not in data:
                data = data.replace(b"</Relationships>", relationship.encode())
            elif info.filename == "[Content_Types].xml" and b"sharedStrings" not in data:
                data = data.replace(b"</Types>", override.encode())
            elif info.filename == "xl/sharedStrings.xml":
                continue
            archive.writestr(info.filename, data)
        with archive.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                       b'spreadsheetml/2006/main">')  # fmt: skip
            for _ in range(int(megabytes * 1024 * 1024 / 26)):  # 26 bytes a string
                part.write(f"<si><t>{rng.getrandbits(40):010x}</t></si>".encode())
            part.write(b"</sst>")


def measure(case: str, path: str, unchecked: bool) -> dict:
    """Run in a child process: read `path` as an upload is read."""
    from crm.core.errors import OperationError
    from crm.imports import table_reader

    if unchecked:
        table_reader.check_workbook = lambda *args: None  # what reading it cost before
    started, cpu = time.perf_counter(), time.process_time()
    outcome = ""
    try:
        reader = table_reader.TableReader(Path(path), f"{case}.xlsx", max_rows=2_000_000)
        rows = reader.count_rows()
        rows = sum(1 for _ in reader.rows())
        outcome = f"read, {rows:,} rows"
    except OperationError as error:
        outcome = "refused: " + error.message
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "case": case,
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "peak_mb": round(peak_kb / 1024, 1),
        "outcome": outcome,
    }


def run_child(case: str, path: Path, unchecked: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", case, str(path)]
    out = subprocess.run(
        command + (["--unchecked"] if unchecked else []),
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline_mb() -> float:
    """Peak memory of a process that only imports the reader: the floor under each case."""
    code = (
        "import resource, crm.imports.table_reader, openpyxl;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return round(int(out.stdout.strip()) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpacked-mb", type=int, default=290)
    parser.add_argument("--rows", type=int, default=35_000)
    parser.add_argument("--shared-mb", type=float, default=19.5)
    parser.add_argument("--unchecked", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "PATH"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.unchecked)))
        return
    with tempfile.TemporaryDirectory() as folder:
        workbook, bomb = Path(folder) / "list.xlsx", Path(folder) / "bomb.xlsx"
        write_workbook(workbook, args.rows)
        write_bomb(bomb, args.unpacked_mb, workbook)
        shared = Path(folder) / "strings.xlsx"
        write_shared_strings(shared, workbook, args.shared_mb)
        sizes = {
            p.name: (p.stat().st_size, sum(i.file_size for i in zipfile.ZipFile(p).infolist()))
            for p in (bomb, workbook, shared)
        }
        results = [
            run_child("bomb", bomb),
            run_child("workbook", workbook),
            run_child("shared-strings", shared),
        ]
        if args.unchecked:
            results.append(run_child("bomb-unchecked", bomb, unchecked=True))
    lines = [
        f"XLSX bomb vs a real workbook — revision {git_revision('crm/imports')}, "
        f"CPU reference {cpu_reference_ms():.0f} ms",
        f"process floor (Python with the reader and openpyxl imported): {baseline_mb()} MB peak",
    ]
    for name, (packed, unpacked) in sizes.items():
        lines.append(f"{name}: {packed / 2**20:.2f} MB, unpacks to {unpacked / 2**20:.1f} MB")
    lines.append(f"{'case':<16} {'seconds':>8} {'cpu s':>8} {'peak MB':>8}  outcome")
    for r in results:
        lines.append(
            f"{r['case']:<16} {r['seconds']:>8.3f} {r['cpu_seconds']:>8.3f} {r['peak_mb']:>8.1f}  "
            f"{r['outcome'][:90]}"
        )
    report = "\n".join(lines)
    print(report)
    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (results_dir / f"xlsx_bomb-{stamp}.txt").write_text(report + "\n")


if __name__ == "__main__":
    main()
