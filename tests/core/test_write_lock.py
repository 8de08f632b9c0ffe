"""Which transactions take SQLite's write lock as they begin (crm.core.write_lock)."""

from __future__ import annotations

import click
from flask import g

from crm.core.write_lock import begins_writing, only_reads, transactions


def test_a_request_writes_unless_it_only_reads(app):
    for method, writing in (("GET", False), ("HEAD", False), ("POST", True), ("DELETE", True)):
        with app.test_request_context("/", method=method):
            assert begins_writing() is writing
    with app.test_request_context("/", method="POST"):
        g.reading_only = True  # the "database is busy" page
        assert begins_writing() is False


def test_a_command_writes_unless_it_says_it_only_reads(app):
    with app.app_context():
        assert begins_writing() is False  # neither a request nor a command: a test, a script
        with click.Context(click.Command("any")):
            assert begins_writing() is True
            only_reads()
            assert begins_writing() is False


def test_a_block_says_what_its_transactions_do_and_is_undone_after(app):
    with app.app_context(), click.Context(click.Command("import")):
        with transactions(writing=False):
            assert begins_writing() is False
            with transactions(writing=True):
                assert begins_writing() is True
            assert begins_writing() is False
        assert begins_writing() is True
