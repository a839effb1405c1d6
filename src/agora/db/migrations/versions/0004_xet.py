"""xet storage: xorbs, files, global dedup chunk index

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xet_xorbs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("num_chunks", sa.Integer(), nullable=False),
        sa.Column("unpacked", sa.BigInteger(), nullable=False),
        sa.Column("meta", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("xet_xorbs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xet_xorbs_hash"), ["hash"], unique=True)

    op.create_table(
        "xet_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.LargeBinary(), nullable=False),
        sa.Column("shard", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("xet_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xet_files_file_hash"), ["file_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_xet_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "xet_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chunk_hash", sa.String(length=64), nullable=False),
        sa.Column("xorb_hash", sa.String(length=64), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("xet_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xet_chunks_chunk_hash"), ["chunk_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("xet_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xet_chunks_chunk_hash"))
    op.drop_table("xet_chunks")
    with op.batch_alter_table("xet_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xet_files_sha256"))
        batch_op.drop_index(batch_op.f("ix_xet_files_file_hash"))
    op.drop_table("xet_files")
    with op.batch_alter_table("xet_xorbs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xet_xorbs_hash"))
    op.drop_table("xet_xorbs")
