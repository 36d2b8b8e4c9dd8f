"""Each reminder daemon records its last dispatch: `reminders status` shows it, or warns when it is old.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

One row per daemon (its lease owner, host:pid), written at every dispatch; the relay's state as the
daemon last saw it (failing since when, and why) rides along, and the stop time once it stopped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_heartbeats",
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_dispatch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_every", sa.Float(), nullable=False),
        sa.Column("relay_down_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("relay_error", sa.Text(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("daemon_heartbeats")
