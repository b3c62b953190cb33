"""End users and tiers, with a trigram index for fragment search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

SQLite gets an FTS5 table with the trigram tokenizer over users.search_text, kept in step by
triggers; PostgreSQL gets a pg_trgm GIN index. Either answers `LIKE '%fragment%'`-style
searches from an index instead of reading every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tiers = op.create_table(
        "tiers",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tiers")),
    )
    op.bulk_insert(tiers, [{"name": n} for n in ("free", "premium", "unlimited")])
    op.create_table(
        "users",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("quota_daily_requests", sa.Integer(), nullable=True),
        sa.Column("budget_weekly", sa.Float(), nullable=True),
        sa.Column("budget_monthly", sa.Float(), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("budget_bonus", sa.Float(), nullable=True),
        sa.Column("budget_bonus_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tier"], ["tiers.name"], name=op.f("fk_users_tier_tiers")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_users")),
        sa.UniqueConstraint("id", name=op.f("uq_users_id")),
    )
    op.create_index("ix_users_tier_pk", "users", ["tier", "pk"])
    op.create_index("ix_users_status_pk", "users", ["status", "pk"])
    op.create_index("ix_users_joined_at", "users", ["joined_at"])
    op.create_index("ix_users_email", "users", ["email"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE users_search USING fts5("
            "search_text, content='users', content_rowid='pk', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER users_search_ai AFTER INSERT ON users BEGIN "
            "INSERT INTO users_search(rowid, search_text) VALUES (new.pk, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER users_search_ad AFTER DELETE ON users BEGIN "
            "INSERT INTO users_search(users_search, rowid, search_text) "
            "VALUES ('delete', old.pk, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER users_search_au AFTER UPDATE OF search_text ON users BEGIN "
            "INSERT INTO users_search(users_search, rowid, search_text) "
            "VALUES ('delete', old.pk, old.search_text); "
            "INSERT INTO users_search(rowid, search_text) VALUES (new.pk, new.search_text); END"
        )
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_users_search_trgm ON users USING gin (search_text gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS users_search")
    op.drop_table("users")
    op.drop_table("tiers")
