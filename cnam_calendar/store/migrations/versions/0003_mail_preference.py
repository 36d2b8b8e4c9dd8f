"""Learners choose how reminders reach them: each one as it falls due, or a weekly digest.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

« none » stays the ``opt_out`` flag of 0002 (what the unsubscribe links set), so a learner's choice
is read as: opted out → none; otherwise ``mail_preference`` (``each`` or ``weekly``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.add_column(sa.Column("mail_preference", sa.String(8), nullable=False, server_default="each"))


def downgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("mail_preference")
