"""Change notices: what each learner was last told of their dated events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

One row per learner: the snapshot (feed UID → dates) a notice is computed against. The notices
themselves are rows of ``reminder_deliveries`` (same claim, lease and lanes as the reminders).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_baselines",
        sa.Column("learner_id", sa.String(64), sa.ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notice_baselines")
