"""Where a study lives: a SQLite file in the output folder, or a PostgreSQL server.

Optuna's relational storage (SQLAlchemy underneath) serves both: a SQLite file for
one machine (several processes may share it: SQLite locks the file for each write,
and the generous ``timeout`` below makes a writer wait for the lock instead of
failing), and PostgreSQL for workers on many machines.

A storage URL may carry a password (``postgresql://user:secret@host/db``). It is
never printed: every message goes through ``mask``, which replaces the password
wherever it appears, including inside the driver's own error text.
"""

from __future__ import annotations

import random
import re
import time
import warnings
from pathlib import Path
from typing import Any

from digitnet.errors import MissingExtraError, StorageError

STUDY_FILE = "study.db"
SQLITE_LOCK_WAIT_S = 60  # a worker waits this long for another's write to finish
CONNECT_TIMEOUT_S = 10  # an unreachable server is an error after this, not a hang
# A worker that dies without a word (SIGKILL, power cut) leaves its trial RUNNING; with
# a heartbeat every HEARTBEAT_S, a trial silent for GRACE_S is marked FAIL by the next
# worker that starts a trial, so a crashed study does not wait for it forever.
HEARTBEAT_S = 10
GRACE_S = 40
CREATE_ATTEMPTS = 3


def default_url(output: Path) -> str:
    """The SQLite file in the output folder (absolute, so workers anywhere agree)."""
    return f"sqlite:///{(output / STUDY_FILE).resolve()}"


def mask(text: str, url: str) -> str:
    """``text`` with the password of ``url`` replaced by ``***`` everywhere in it."""
    password = _password(url)
    if not password:
        return text
    from urllib.parse import quote

    for form in {password, quote(password, safe=""), quote(password)}:
        text = text.replace(form, "***")
    return text


def _password(url: str) -> str | None:
    """The password in a URL like scheme://user:password@host/db, decoded, if any."""
    from urllib.parse import unquote

    _, sep, rest = url.partition("://")
    if not sep:
        return None
    netloc = rest.split("/", 1)[0]
    userinfo, at, _ = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return None
    return unquote(userinfo.split(":", 1)[1]) or None


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingExtraError("Optuna", "tune") from None
    return optuna


def open_storage(url: str) -> Any:
    """An ``optuna.storages.RDBStorage`` for ``url``, its tables created if new.

    Raises ``StorageError`` (one line, password masked) when the URL is malformed,
    its driver is missing or the server does not answer.
    """
    optuna = require_optuna()
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    engine_kwargs: dict[str, Any] = {}
    if scheme == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": SQLITE_LOCK_WAIT_S}
        Path(url.split("sqlite:///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    elif scheme == "postgresql":
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
        engine_kwargs["pool_pre_ping"] = True  # a server restart costs a reconnect, not a trial
    elif scheme in ("mysql", "oracle", "mssql"):
        pass  # SQLAlchemy dialects Optuna supports; not tested here
    else:
        raise StorageError(
            f"storage {mask(url, url)!r} is not a database URL — use sqlite:///path/study.db"
            " or postgresql://user@host:5432/dbname"
        )
    try:
        return _rdb_storage(optuna, url, engine_kwargs)
    except ImportError:  # the database driver (psycopg2 or psycopg) is missing
        raise MissingExtraError(f"the {scheme} driver (psycopg for PostgreSQL)", "tune") from None
    except Exception as exc:  # SQLAlchemy's OperationalError, ArgumentError, …
        reason = mask(_first_line(str(exc)), url)
        raise StorageError(
            f"cannot open the study storage {mask(url, url)}: {reason} — check that the server"
            " runs and the URL, user and password are right"
        ) from None


def _rdb_storage(optuna: Any, url: str, engine_kwargs: dict[str, Any]) -> Any:
    """Optuna's RDBStorage; tried again when workers starting together race to create
    its tables (the loser sees a duplicate key or an existing table: they are there now)."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                # heartbeat_interval is marked experimental in some Optuna versions
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                )
        except (IntegrityError, ProgrammingError):
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def _first_line(text: str) -> str:
    """The first non-empty line of a driver's message (they span several)."""
    for line in text.splitlines():
        if line.strip():
            # SQLAlchemy prefixes the driver's class: "(psycopg.OperationalError) …"
            return re.sub(r"^\([\w.]+\) ", "", line.strip())
    return text.strip() or "no reason given"
