"""Durable operations and the tenant registry, over DB-API 2.0: SQLite by default (one API process), the
same SQL on PostgreSQL when several replicas share the queue (`Store.postgres`, through pg8000; the SQL is
written with `?` placeholders and translated for `format`-style drivers).

Two tables:
- `operations`: every accepted request (kind, tenant, the tenant settings it applies, status queued ->
  running -> done | failed with a reason), its Idempotency-Key, and, while running, the worker holding it
  and until when (`lease_until`, renewed by the worker's heartbeat). A lease that runs out belongs to a
  worker that died: the operation is queued again and resumed (applying a tenant's settings is
  idempotent, so running it again is safe).
- `tenants`: what the API knows of each tenant (its settings as last accepted, state, outputs of the
  last successful operation, never the API key), so listing tenants needs no Pulumi call.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tenants (
        id TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        state TEXT NOT NULL,
        outputs TEXT,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS operations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        settings TEXT NOT NULL,
        with_api_key INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        idempotency_key TEXT UNIQUE,
        request_hash TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        worker TEXT,
        lease_until REAL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS operations_by_status ON operations (status, tenant_id)",
)
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Operation:
    id: str
    tenant_id: str
    kind: str
    settings: dict[str, Any]
    with_api_key: bool
    status: str
    reason: str | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }


_OPERATION_COLUMNS = (
    "id, tenant_id, kind, settings, with_api_key, status, reason, attempts, created_at, started_at, finished_at"
)


def _operation(row: tuple) -> Operation:
    return Operation(
        id=row[0],
        tenant_id=row[1],
        kind=row[2],
        settings=json.loads(row[3]),
        with_api_key=bool(row[4]),
        status=row[5],
        reason=row[6],
        attempts=row[7],
        created_at=row[8],
        started_at=row[9],
        finished_at=row[10],
    )


class IdempotencyConflict(ValueError):
    """The Idempotency-Key was already used for a different request."""


def postgres_schema() -> tuple[str, ...]:
    """The same tables in PostgreSQL's types: a sequence for the order of arrival, and double precision for
    times (its REAL is 4 bytes, far too coarse for a Unix time)."""
    return tuple(
        statement.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY").replace(
            " REAL", " DOUBLE PRECISION"
        )
        for statement in SCHEMA
    )


class Store:
    """The two tables over one DB-API connection factory; every method is one transaction.

    Transactions are serialized against every other writer, in any process: SQLite's BEGIN IMMEDIATE takes
    the database's write lock; on PostgreSQL an EXCLUSIVE lock on `operations` does the same (plain reads
    still run alongside). That is what makes a claim atomic across API replicas."""

    def __init__(self, connect: Callable[[], Any], paramstyle: str = "qmark", dialect: str = "sqlite") -> None:
        self._connect = connect
        self._paramstyle = paramstyle
        self._dialect = dialect
        self._local = threading.local()
        connection = self._connection()
        cursor = connection.cursor()
        for statement in postgres_schema() if dialect == "postgres" else SCHEMA:
            cursor.execute(statement)

    @classmethod
    def sqlite(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)

        def connect() -> sqlite3.Connection:
            # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE takes the write lock
            # up front, so a claim cannot race another worker's claim of the same operation).
            connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            return connection

        return cls(connect)

    @classmethod
    def postgres(cls, **connect_args: Any) -> Store:
        """PostgreSQL through pg8000 (pure Python, DB-API, `format` paramstyle), for several API replicas."""
        import pg8000.dbapi

        def connect() -> Any:
            connection = pg8000.dbapi.connect(**connect_args)
            connection.autocommit = True  # transactions are begun explicitly, as with SQLite
            return connection

        return cls(connect, paramstyle="format", dialect="postgres")

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._paramstyle == "format" else statement

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        cursor = self._connection().cursor()
        if self._dialect == "postgres":
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE operations IN EXCLUSIVE MODE")
        else:
            cursor.execute("BEGIN IMMEDIATE")
        try:
            yield _Cursor(cursor, self._sql)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    # --- tenants -----------------------------------------------------------------------------------------------

    def tenant(self, tenant_id: str) -> dict[str, Any] | None:
        with self._transaction() as cursor:
            return self._tenant(cursor, tenant_id)

    @staticmethod
    def _tenant(cursor: _Cursor, tenant_id: str) -> dict[str, Any] | None:
        row = cursor.execute("SELECT id, settings, state, outputs FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "settings": json.loads(row[1]), "state": row[2], "outputs": json.loads(row[3] or "null")}

    def tenants(self) -> list[dict[str, Any]]:
        with self._transaction() as cursor:
            ids = [row[0] for row in cursor.execute("SELECT id FROM tenants ORDER BY id").fetchall()]
            return [t for t in (self._tenant(cursor, i) for i in ids) if t is not None]

    def register(self, tenant_id: str, settings: dict[str, Any], state: str) -> None:
        """Record a tenant whose stack was made outside the queue (the migration)."""
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
            cursor.execute(
                "INSERT INTO tenants (id, settings, state, updated_at) VALUES (?, ?, ?, ?)",
                (tenant_id, json.dumps(settings), state, time.time()),
            )

    # --- operations --------------------------------------------------------------------------------------------

    def submit(
        self,
        decide: Callable[[dict[str, Any] | None], tuple[str, dict[str, Any], str] | None],
        tenant_id: str,
        with_api_key: bool,
        idempotency_key: str | None,
        request_hash: str,
    ) -> tuple[Operation | None, bool]:
        """Accept a request in one transaction: a replayed Idempotency-Key returns its operation (False: not
        new); otherwise `decide(current tenant row)` returns (kind, next settings, state) or None for a no-op,
        or raises to refuse. The tenant row takes the next settings at once, so the next request for the same
        tenant is judged against them."""
        with self._transaction() as cursor:
            if idempotency_key is not None:
                row = cursor.execute(
                    f"SELECT request_hash, {_OPERATION_COLUMNS} FROM operations WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                if row is not None:
                    if row[0] != request_hash:
                        raise IdempotencyConflict(
                            "Idempotency-Key was already used for a different request; use a new key"
                        )
                    return _operation(row[1:]), False
            decision = decide(self._tenant(cursor, tenant_id))
            if decision is None:
                return None, False
            kind, settings, state = decision
            now = time.time()
            operation_id = f"op-{uuid.uuid4().hex}"
            cursor.execute(
                "INSERT INTO operations (id, tenant_id, kind, settings, with_api_key, status, idempotency_key, "
                "request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    operation_id,
                    tenant_id,
                    kind,
                    json.dumps(settings),
                    int(with_api_key),
                    QUEUED,
                    idempotency_key,
                    request_hash,
                    now,
                ),
            )
            encoded = json.dumps(settings)
            if cursor.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone():
                cursor.execute(
                    "UPDATE tenants SET settings = ?, state = ?, updated_at = ? WHERE id = ?",
                    (encoded, state, now, tenant_id),
                )
            else:
                cursor.execute(
                    "INSERT INTO tenants (id, settings, state, updated_at) VALUES (?, ?, ?, ?)",
                    (tenant_id, encoded, state, now),
                )
            return self._operation(cursor, operation_id), True

    @staticmethod
    def _operation(cursor: _Cursor, operation_id: str) -> Operation | None:
        row = cursor.execute(f"SELECT {_OPERATION_COLUMNS} FROM operations WHERE id = ?", (operation_id,)).fetchone()
        return _operation(row) if row else None

    def operation(self, operation_id: str) -> Operation | None:
        with self._transaction() as cursor:
            return self._operation(cursor, operation_id)

    def operations(self, status: str | None = None) -> list[Operation]:
        with self._transaction() as cursor:
            where, params = ("WHERE status = ?", (status,)) if status else ("", ())
            rows = cursor.execute(f"SELECT {_OPERATION_COLUMNS} FROM operations {where} ORDER BY seq", params)
            return [_operation(row) for row in rows.fetchall()]

    def requeue_expired(self) -> int:
        """Queue again every running operation whose worker stopped renewing its lease (it died)."""
        with self._transaction() as cursor:
            cursor.execute(
                "UPDATE operations SET status = ?, worker = NULL, lease_until = NULL "
                "WHERE status = ? AND lease_until < ?",
                (QUEUED, RUNNING, time.time()),
            )
            return cursor.rowcount

    def claim(self, worker: str, lease_seconds: float, only: str | None = None) -> Operation | None:
        """The oldest queued operation of a tenant that has no operation running and no older one queued
        (same tenant: one after another; different tenants: in parallel), now running under `worker`."""
        with self._transaction() as cursor:
            only_clause, params = ("AND o.id = ?", (only,)) if only else ("", ())
            row = cursor.execute(
                "SELECT o.id FROM operations o WHERE o.status = 'queued' "
                "AND NOT EXISTS (SELECT 1 FROM operations r WHERE r.tenant_id = o.tenant_id AND r.status = 'running') "
                "AND NOT EXISTS (SELECT 1 FROM operations q WHERE q.tenant_id = o.tenant_id AND q.status = 'queued' "
                f"AND q.seq < o.seq) {only_clause} ORDER BY o.seq LIMIT 1",
                params,
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            cursor.execute(
                "UPDATE operations SET status = ?, worker = ?, lease_until = ?, attempts = attempts + 1, "
                "started_at = ? WHERE id = ?",
                (RUNNING, worker, now + lease_seconds, now, row[0]),
            )
            return self._operation(cursor, row[0])

    def renew(self, operation_id: str, worker: str, lease_seconds: float) -> bool:
        with self._transaction() as cursor:
            cursor.execute(
                "UPDATE operations SET lease_until = ? WHERE id = ? AND worker = ? AND status = ?",
                (time.time() + lease_seconds, operation_id, worker, RUNNING),
            )
            return cursor.rowcount == 1

    def finish(
        self,
        operation_id: str,
        worker: str,
        status: str,
        reason: str | None = None,
        outputs: dict[str, Any] | None = None,
        remove_tenant: bool = False,
    ) -> None:
        with self._transaction() as cursor:
            now = time.time()
            cursor.execute(
                "UPDATE operations SET status = ?, reason = ?, finished_at = ?, lease_until = NULL "
                "WHERE id = ? AND worker = ? AND status = ?",
                (status, reason, now, operation_id, worker, RUNNING),
            )
            if cursor.rowcount != 1:
                return  # the lease was lost (and the operation resumed elsewhere): that run reports
            tenant_id = cursor.execute("SELECT tenant_id FROM operations WHERE id = ?", (operation_id,)).fetchone()[0]
            if remove_tenant:
                cursor.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
            elif outputs is not None:
                cursor.execute(
                    "UPDATE tenants SET outputs = ?, updated_at = ? WHERE id = ?", (json.dumps(outputs), now, tenant_id)
                )


class _Cursor:
    """A DB-API cursor whose `execute` translates `?` placeholders for the driver's paramstyle."""

    def __init__(self, cursor: Any, sql: Callable[[str], str]) -> None:
        self._cursor, self._sql = cursor, sql

    def execute(self, statement: str, params: tuple = ()) -> _Cursor:
        self._cursor.execute(self._sql(statement), params)
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount
