"""lfs locks

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lfs_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("ref_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_id", "path"),
    )
    with op.batch_alter_table("lfs_locks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lfs_locks_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lfs_locks_repo_id"), ["repo_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lfs_locks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lfs_locks_repo_id"))
        batch_op.drop_index(batch_op.f("ix_lfs_locks_owner_id"))

    op.drop_table("lfs_locks")
