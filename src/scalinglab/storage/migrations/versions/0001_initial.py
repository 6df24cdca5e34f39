"""Initial schema: studies, runs, run_points.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("task", sa.String(300), nullable=False),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("shard_index", sa.Integer, nullable=False),
        sa.Column("shard_size", sa.Integer, nullable=False),
        sa.Column("model_size", sa.Float, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("config_key", sa.String(64), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("heartbeat_at", sa.DateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("n_params", sa.Float, nullable=True),
        sa.Column("final_metrics_json", sa.Text, nullable=True),
        sa.UniqueConstraint("study_id", "shard_index", "model_size", "seed", "config_key",
                            name="uq_runs_key"),
    )
    op.create_index("ix_runs_study_state", "runs", ["study_id", "state"])
    op.create_table(
        "run_points",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("val_error", sa.Float, nullable=False),
        sa.Column("metrics_json", sa.Text, nullable=True),
    )
    op.create_index("ix_run_points_run", "run_points", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_points_run", table_name="run_points")
    op.drop_table("run_points")
    op.drop_index("ix_runs_study_state", table_name="runs")
    op.drop_table("runs")
    op.drop_table("studies")
