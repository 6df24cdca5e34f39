"""SQLAlchemy table definitions of the current schema (Alembic revision ``head``).

The migrations in ``migrations/versions`` are the source of truth for the database; these
definitions must describe the same schema (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

studies = Table(
    "studies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("task", String(300), nullable=False),
    Column("spec_json", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_id", Integer, ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("shard_index", Integer, nullable=False),
    Column("shard_size", Integer, nullable=False),
    Column("model_size", Float, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("config_key", String(64), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("phase", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False),
    Column("worker", String(200), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=True),
    Column("finished_at", DateTime, nullable=True),
    Column("heartbeat_at", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("score", Float, nullable=True),
    Column("n_params", Float, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("final_metrics_json", Text, nullable=True),
    UniqueConstraint("study_id", "shard_index", "model_size", "seed", "config_key",
                     name="uq_runs_key"),
    Index("ix_runs_study_state", "study_id", "state"),
)

run_points = Table(
    "run_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", Integer, nullable=False),
    Column("val_error", Float, nullable=False),
    Column("metrics_json", Text, nullable=True),
    Index("ix_run_points_run", "run_id"),
)
