"""case-insensitive name keys of accounts and repos

Names compare without case, as on the Hub: `alice` and `Alice` are one name. This adds
accounts.name_key = lower(name) and repos.(namespace_key, name_key), fills them, and indexes them.
The indexes are unique only when no case twins exist yet. A database that already holds twins (made
before this revision) migrates anyway and nothing is merged: the twins are logged here and listed by
`agora fsck`; an admin renames one of each pair (`agora user rename`, `agora repo rename`) and then
`agora fsck --fix-indexes` makes the indexes unique (hub/names.py).

Revision ID: 0010
Revises: 0007
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("agora.migrations")

accounts = sa.table("accounts", sa.column("name", sa.String), sa.column("name_key", sa.String))
repos = sa.table(
    "repos",
    sa.column("type", sa.String),
    sa.column("namespace", sa.String),
    sa.column("name", sa.String),
    sa.column("namespace_key", sa.String),
    sa.column("name_key", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=96), nullable=True))
    with op.batch_alter_table("repos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("namespace_key", sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column("name_key", sa.String(length=96), nullable=True))
    conn = op.get_bind()
    conn.execute(accounts.update().values(name_key=sa.func.lower(accounts.c.name)))
    conn.execute(
        repos.update().values(
            namespace_key=sa.func.lower(repos.c.namespace), name_key=sa.func.lower(repos.c.name)
        )
    )

    twin_accounts = (
        conn.execute(
            sa.select(accounts.c.name)
            .where(
                accounts.c.name_key.in_(
                    sa.select(accounts.c.name_key).group_by(accounts.c.name_key).having(sa.func.count() > 1)
                )
            )
            .order_by(accounts.c.name_key, accounts.c.name)
        )
        .scalars()
        .all()
    )
    key = (repos.c.type, repos.c.namespace_key, repos.c.name_key)
    twin_repos = conn.execute(
        sa.select(repos.c.type, repos.c.namespace, repos.c.name)
        .where(sa.tuple_(*key).in_(sa.select(*key).group_by(*key).having(sa.func.count() > 1)))
        .order_by(*key, repos.c.namespace, repos.c.name)
    ).all()
    if twin_accounts:
        log.warning(
            "accounts whose names differ only by case (not merged; the name index stays non-unique "
            "until one of each is renamed with `agora user rename`, see `agora fsck`): %s",
            ", ".join(twin_accounts),
        )
    if twin_repos:
        log.warning(
            "repos whose ids differ only by case (not merged; the id index stays non-unique until "
            "one of each is renamed with `agora repo rename`, see `agora fsck`): %s",
            ", ".join(f"{t} {ns}/{n}" for t, ns, n in twin_repos),
        )
    op.create_index("ix_accounts_name_key", "accounts", ["name_key"], unique=not twin_accounts)
    op.create_index(
        "ix_repos_name_key", "repos", ["type", "namespace_key", "name_key"], unique=not twin_repos
    )


def downgrade() -> None:
    op.drop_index("ix_repos_name_key", table_name="repos")
    op.drop_index("ix_accounts_name_key", table_name="accounts")
    with op.batch_alter_table("repos", schema=None) as batch_op:
        batch_op.drop_column("name_key")
        batch_op.drop_column("namespace_key")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("name_key")
