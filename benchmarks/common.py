"""What every benchmark script prints or needs beside its own measurements: how fast the CPU
was during the run, which revision was measured, and a PostgreSQL database made afresh."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DATABASE = "postgres"


def cpu_reference_ms() -> float:
    """A fixed pure-Python loop: how fast this (shared, virtual) CPU was during the run."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def git_revision(*paths: str) -> str:
    """The commit measured; with `paths`, uncommitted changes are looked for only there."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", *paths],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changes = " to " + ", ".join(paths) if paths else ""
    return head + (f" + uncommitted changes{changes}" if dirty else "")


def sqlalchemy_url(url: str) -> str:
    """A postgresql:// address as SQLAlchemy takes it with psycopg 3."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def fresh_postgres(url: str) -> None:
    """Drop the database `url` names, if there, and make it again, empty."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database=PG_ADMIN_DATABASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()
