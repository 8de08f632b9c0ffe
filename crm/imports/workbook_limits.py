"""An uploaded workbook's ZIP, checked before anything unpacks it.

An XLSX is a ZIP of XML files, and a ZIP says in its directory how large each file inside is
once unpacked. A decompression bomb (1 MB that unpacks to hundreds) is refused here from those
declared sizes alone, in milliseconds, instead of after minutes of parsing. A ZIP that lies
about a size cannot get past it either: Python's `zipfile`, which openpyxl reads through, stops
unpacking a member at its declared size (and then fails its checksum), so the declared sizes
are a cap on what is ever unpacked.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from crm.core.errors import OperationError
from crm.imports.phrases import megabytes

# A workbook holds a few dozen files (sheets, styles, a theme, a picture or two); thousands are
# no spreadsheet, and each one costs openpyxl a look.
MAX_MEMBERS = 1_000

# How many times its packed size one file inside may unpack to. Measured: a contact list's
# sheet unpacks to 12 times, a sheet of one value repeated in every cell to 22 times; a bomb
# unpacks hundreds or a thousand times.
MAX_RATIO = 100

# Below this, a high ratio costs nothing (a few kilobytes of blank styles pack very well).
RATIO_FLOOR = 1024 * 1024

# openpyxl streams a worksheet, but parses every other XML part (the shared strings above all:
# each distinct text of the workbook) into memory whole, at about 7 times its size: each such
# part may unpack to a fifth of the limit (20 MB by default, some 140 MB in memory).
HELD_WHOLE_SHARE = 5

# The default of CRM_IMPORT_MAX_UNPACKED_BYTES, for a reader made without the app's settings.
DEFAULT_MAX_UNPACKED = 100 * 1024 * 1024


def check_workbook(path: Path, file_name: str, max_unpacked: int) -> None:
    """Refuse a ZIP that is too large unpacked, holds too many files, has a part read whole
    that is too large, or packs one of them more tightly than any spreadsheet does; reads only
    the ZIP's directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise OperationError(
            f"“{file_name}” cannot be opened as an Excel (.xlsx) file: it may be damaged. "
            "Open it in Excel, save it again as .xlsx or CSV, and upload that."
        ) from None
    if len(members) > MAX_MEMBERS:
        raise OperationError(
            f"“{file_name}” holds {len(members):,} files inside; an Excel workbook holds a "
            f"few dozen, and we read at most {MAX_MEMBERS:,}. Save it as CSV and upload that."
        )
    total = 0
    for member in members:
        total += member.file_size
        if total > max_unpacked:  # so also any one file inside
            size = sum(m.file_size for m in members)
            raise OperationError(
                f"“{file_name}” unpacks to {megabytes(size)}, more than the "
                f"{megabytes(max_unpacked)} we read from one workbook. Save it as CSV (which "
                "has no such limit) or split it into smaller workbooks, and upload that."
            )
        held_whole = max_unpacked // HELD_WHOLE_SHARE
        if _held_whole(member.filename) and member.file_size > held_whole:
            raise OperationError(
                f"“{file_name}” has a part ({member.filename}) that unpacks to "
                f"{megabytes(member.file_size)}; we read at most {megabytes(held_whole)} of "
                "such a part, which is held in memory whole. Save it as CSV (which has no such "
                "limit) or split it into smaller workbooks, and upload that."
            )
        packed = max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and member.file_size / packed > MAX_RATIO:
            raise OperationError(
                f"“{file_name}” is not a workbook we can read safely: a part of it "
                f"({member.filename}) unpacks to {member.file_size // packed:,} times its "
                f"size, where a spreadsheet's parts unpack to less than {MAX_RATIO}. Open it "
                "in Excel, save it again as .xlsx or CSV, and upload that."
            )


def _held_whole(name: str) -> bool:
    """An XML part openpyxl parses whole: any but a worksheet, which it reads as it goes."""
    lowered = name.lower()
    return lowered.endswith((".xml", ".rels")) and not lowered.startswith("xl/worksheets/")
