"""Engine and units of work. SQLite (embedded default) or PostgreSQL."""

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, create_engine


def make_engine(url: str) -> Engine:
    """An engine tuned for the ledger's short write transactions."""
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        # Connections are cheap here; running out of them would stall every activity thread.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=10,
            max_overflow=40,
        )
        _sqlite_write_lock_up_front(engine)
        _WRITE_LOCKS[engine] = WriterQueue(sqlite_path(url))
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def sqlite_path(url: str) -> str | None:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    return path if path and path != ":memory:" else None


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file, not its folder (e.g. .data/ on a fresh machine)."""
    path = sqlite_path(url)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


class WriterQueue:
    """SQLite lets one writer in at a time and makes the others poll, sleeping up to
    100 ms between tries while the file may already be free: in a peak, with the API and
    the workers writing at once, most of the writers' time went to those sleeps. Writers
    queue here instead: on a lock among this process's threads, then on an advisory lock
    on a file beside the database among processes, which the kernel hands on as soon as
    it is released."""

    def __init__(self, database: str | None):
        self._threads = threading.Lock()
        self._file = f"{database}.writer" if database else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._file is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _sqlite_write_lock_up_front(engine: Engine) -> None:
    # SQLite's default deferred transactions deadlock when two readers both try to
    # write; BEGIN IMMEDIATE takes the write lock first, so writers queue instead. Reads
    # stay deferred: in WAL mode they never wait, nor hold up a writer.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        writes = conn.get_execution_options().get(WRITES, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
WRITES = "oms_writes"  # a unit of work: on SQLite it takes the write lock when it begins


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    lock = _WRITE_LOCKS.get(engine)
    if lock is None and engine.dialect.name == "sqlite":
        # Without make_engine's writers' queue and BEGIN IMMEDIATE, concurrent writers
        # would deadlock instead of waiting their turn: refuse rather than risk it.
        raise RuntimeError("a SQLite engine for the ledger must come from db.engine.make_engine")
    with (
        lock or nullcontext(),
        Session(engine.execution_options(**{WRITES: True}), expire_on_commit=False) as session,
    ):
        with session.begin():
            yield session


@contextmanager
def read_only(engine: Engine) -> Iterator[Session]:
    """Several reads on one snapshot, outside the writers' queue (on SQLite in WAL mode a
    reader neither waits for a writer nor holds one up)."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def insert_if_absent(session: Session, table: type[SQLModel], values: dict[str, Any]) -> bool:
    """Insert a row unless its primary key exists; True if this call inserted it.

    A concurrent insert of the same key waits for the other transaction and then does
    nothing, instead of failing: the database decides who was first.
    """
    key = list(table.__table__.primary_key.columns)  # type: ignore[attr-defined]
    statement = upsert(session, table).values(**values).on_conflict_do_nothing().returning(*key)
    return session.exec(statement).first() is not None


def upsert(session: Session, table: type[SQLModel]) -> Any:
    """An INSERT that takes ON CONFLICT clauses, in the session's SQL dialect."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
