"""Several refusals at once, so a page can name every problem instead of the first."""

from __future__ import annotations

from crm.core.errors import OperationError


class Problems(OperationError):
    """Several refusals at once, each (field, message), so the page can name every one: the
    fields are the form's (`name`, `country`, ...) and the answers' (`mark-p3`, `comment-r2`)."""

    def __init__(self, problems: list[tuple[str | None, str]]):
        super().__init__(problems[0][1], field=problems[0][0])
        self.problems = problems
