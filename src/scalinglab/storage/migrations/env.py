"""Alembic environment: scalinglab always passes an open connection (see storage._migrate)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Any) -> None:
    context.configure(connection=conn, render_as_batch=True, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # command-line use: `alembic -c .../alembic.ini -x url=sqlite:///x.db upgrade head`
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    with create_engine(str(url)).connect() as conn:
        _run(conn)
