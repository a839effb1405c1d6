"""xorb_offered_at: xet_xorbs.offered_at, when a global dedup answer last named the xorb (agora gc keeps it
for its xorb grace after that: the client believes the answer until the shard's expiry)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("xet_xorbs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("xet_xorbs", schema=None) as batch_op:
        batch_op.drop_column("offered_at")
