"""Where the warehouse is written: schema migrations, analyst views, roles, and one
transaction per campaign.

Storage is chosen by the URL only (SQLite file by default, PostgreSQL in production):
`connect` picks the engine's object of `sql_dialects`, and what the engines do their own
way (bulk insert, delete by keys, writer locks, view marks) is asked of it; the same SQL
files and the same code serve both. A load replaces the campaign's rows for the regions it
covers inside one transaction, serialised against concurrent loads of the same campaign.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire import preflight
from observatoire.errors import CampaignError
from observatoire.sql_dialects import READERS_NOT_BLOCKED_OPTION, WRITE_OPTION, dialect_of, for_url

DEFAULT_URL_ENV = "OBSERVATOIRE_WAREHOUSE_URL"
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
TABLES_BY_SCOPE = ("centre_year_status", "submission", "submission_personnel", "submission_issue",
                   "reconciliation_review", "centre_change")


def warehouse_url(url: str | None) -> str:
    """The URL given, else OBSERVATOIRE_WAREHOUSE_URL, else the SQLite file warehouse.db;
    a plain path (`entrepot.db`) is that SQLite file."""
    return preflight.warehouse_url(url)[0]


# ------------------------------------------------------------------ secrets
# The password of a warehouse URL given on the command line must reach neither Prefect
# (flow-run parameters are stored by its server and shown in its UI) nor logs, artifacts,
# files or `pipeline_run`. `hand_off` keeps the full URL in this process, keyed by the
# URL as it may be shown (password masked), and returns that shown URL: parameters, task
# arguments and messages only ever carry it, and `connect` swaps it back for the full
# URL when it opens the engine. Keyed by the shown URL rather than a random token, the
# flow parameter needs no extra field; two different passwords for the same login, host
# and database cannot both be right, so the key is unambiguous. A run started elsewhere
# (a Prefect worker) has no such entry: it gets the password from the Secret block or
# OBSERVATOIRE_WAREHOUSE_URL, and a masked URL without it is refused with one line.
MASK = "***"
_FULL_URLS: dict[str, str] = {}
_PASSWORD_IN_UNPARSABLE_URL = re.compile(r"(:)[^:@/\s]*@")


def redact(url: str) -> str:
    """The URL without its password (also `?password=`), for logs, parameters, pipeline_run."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: mask what looks like user:password@
        return _PASSWORD_IN_UNPARSABLE_URL.sub(rf"\1{MASK}@", url)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": MASK})
    return parsed.render_as_string(hide_password=True)


def hand_off(url: str | None) -> str | None:
    """The URL as it may be shown and passed around (Prefect parameters included); its
    password, if any, stays in this process for `connect`."""
    if not url:
        return url
    shown = redact(url)
    if shown != url:
        _FULL_URLS[shown] = url
    return shown


def _full_url(url: str) -> str:
    """The URL `connect` opens: a masked URL handed off in this process gets its password
    back; a masked URL from elsewhere is refused (it would fail as a wrong password)."""
    if url in _FULL_URLS:
        return _FULL_URLS[url]
    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        return url
    if parsed.password == MASK or parsed.query.get("password") == MASK:
        raise CampaignError(
            f"Entrepôt {url} : le mot de passe est masqué ({MASK}) et n'est pas connu de ce processus ; "
            "le donner par le bloc Secret Prefect (paramètre « Bloc Secret de l'entrepôt ») ou la variable "
            f"{DEFAULT_URL_ENV} (voir deploy/README.md)."
        )
    return url


def connect(url: str | None, *, existing: bool = False) -> Engine:
    """An engine on the warehouse, its connection tried once. `existing`: for the commands
    that only read (sql, revue, relance), a warehouse that is not there is one line, never
    a new empty SQLite file or a schema-less database taken for a warehouse."""
    resolved = _full_url(warehouse_url(url))
    parsed = sa.engine.make_url(resolved)
    dialect = for_url(parsed)
    connect_args = dialect.connect_args(parsed, redact(resolved), existing)
    try:
        engine = sa.create_engine(resolved, connect_args=connect_args)
        dialect.prepare(engine)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            if existing and not sa.inspect(connection).has_table("schema_migration"):
                raise CampaignError(f"Entrepôt vide : {redact(resolved)} ne contient pas les tables de l'observatoire "
                                    "(table schema_migration absente ; vérifier --warehouse, ou le remplir avec "
                                    "observatoire run).")
    except CampaignError:
        raise
    except Exception as exc:  # driver errors vary; the user needs one clear line
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = cause[0] if cause else ""
        # a driver may repeat the URL it was given (SQLAlchemy's "Could not parse … from string")
        password = _password_of(resolved)
        if password:
            first = first.replace(password, MASK)
        raise CampaignError(
            f"Entrepôt injoignable : {redact(resolved)} ({type(exc).__name__}: {first})"
        ) from exc
    dialect.check(engine, redact(resolved))
    return engine


# One engine per warehouse for the runs in progress in this process: a new engine costs a
# connection, the dialect's first queries and a probe (0.1 s on PostgreSQL).
_ENGINES: dict[str, list] = {}  # url -> [engine, runs using it]
_ENGINES_LOCK = threading.Lock()


@contextmanager
def shared_engine(url: str):
    """The engine of `url` for the duration of a run; disposed when its last run ends."""
    with _ENGINES_LOCK:
        entry = _ENGINES.get(url)
        if entry is None:
            entry = _ENGINES[url] = [connect(url), 0]
        entry[1] += 1
    try:
        yield entry[0]
    finally:
        with _ENGINES_LOCK:
            entry[1] -= 1
            if entry[1] == 0:
                _ENGINES.pop(url, None)
                entry[0].dispose()


def run_engine(url: str) -> Engine:
    """The engine shared by the run in progress, else a new one."""
    entry = _ENGINES.get(url)
    return entry[0] if entry is not None else connect(url)


def _password_of(url: str) -> str | None:
    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        found = _PASSWORD_IN_UNPARSABLE_URL.search(url)
        return found.group(0)[len(found.group(1)):-1] or None if found else None
    return parsed.password or parsed.query.get("password") or None


def write_transaction(engine: Engine, readers_not_blocked: bool = False):
    """`engine.begin()` for a writer (on SQLite, BEGIN IMMEDIATE: see sql_dialects).
    `readers_not_blocked`: a large write during which the run goes on reading the
    warehouse (on SQLite, it holds its changes in memory until it commits)."""
    return engine.execution_options(**{WRITE_OPTION: True, READERS_NOT_BLOCKED_OPTION: readers_not_blocked}).begin()


# ------------------------------------------------------------------ schema
def _statements(sql: str) -> list[str]:
    """Split an SQL file on `;`, leaving `$$ … $$` bodies (PostgreSQL DO blocks) whole and
    dropping `--` comment lines."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements, current, quoted = [], [], False
    for piece in re.split(r"(\$\$|;)", "\n".join(lines)):
        if piece == "$$":
            quoted = not quoted
        if piece == ";" and not quoted:
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(piece)
    statements.append("".join(current).strip())
    return [statement for statement in statements if statement]


def _checksum(sql: str) -> str:
    """Of the statements only: editing a comment of an applied file is harmless."""
    return hashlib.sha256("\n;\n".join(_statements(sql)).encode()).hexdigest()


SCHEMA_MIGRATION_DDL = (  # also in sql/roles/postgresql_roles.sql
    "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL, checksum TEXT)"
)


def migrate(engine: Engine, until: str | None = None) -> list[str]:
    """Apply the `sql/migrations/*.sql` files not applied yet, in order, and re-create the
    analyst views of `sql/views/*.sql`; returns the migrations applied now. An applied
    migration whose statements have changed since is refused: add a new file instead.
    `until` (a migration file name) stops after that one: how a test builds the warehouse
    of an earlier version."""
    applied_now = []
    with write_transaction(engine) as connection:
        dialect = dialect_of(connection)
        owner = dialect.schema_owner(connection)  # before the lock, which only loaders may take
        writer_lock(connection, "migrations")
        if owner is not None:
            connection.exec_driver_sql('SET LOCAL ROLE "' + owner.replace('"', '""') + '"')
        connection.execute(sa.text(SCHEMA_MIGRATION_DDL))
        done = dict(connection.execute(sa.text("SELECT name, checksum FROM schema_migration")).all())
        # Views hold no data and may read columns a migration changes: dropped first (in
        # reverse order, since a view may read another one), re-created after; only when a
        # migration is pending or a view file changed (see _views_up_to_date).
        view_files = sorted((SQL_DIR / "views").glob("*.sql"))
        pending = [path for path in sorted((SQL_DIR / "migrations").glob("*.sql"))
                   if path.name not in done and (until is None or path.name <= until)]
        rebuild_views = bool(pending) or until is not None or not dialect.views_up_to_date(
            connection, {path.stem: _view_mark(path) for path in view_files})
        if rebuild_views:
            for path in reversed(view_files):
                connection.execute(sa.text(f"DROP VIEW IF EXISTS {path.stem}"))
        for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
            if until is not None and path.name > until:
                break
            sql = path.read_text("utf-8")
            if path.name in done:
                if done[path.name] not in (None, _checksum(sql)):
                    raise CampaignError(
                        f"Migration {path.name} modifiée après avoir été appliquée à l'entrepôt : "
                        "ajouter une nouvelle migration au lieu de modifier celle-ci."
                    )
                continue
            for statement in _statements(sql):
                connection.execute(sa.text(statement))
            connection.execute(
                sa.text("INSERT INTO schema_migration (name, applied_at, checksum) VALUES (:n, :t, :c)"),
                {"n": path.name, "t": dt.datetime.now(dt.timezone.utc).isoformat(), "c": _checksum(sql)},
            )
            applied_now.append(path.name)
        if until is not None:  # an earlier version's views would need its columns
            return applied_now
        _write_vocabulary(connection)
        if rebuild_views:
            for path in view_files:
                for statement in _statements(path.read_text("utf-8")):
                    connection.execute(sa.text(statement))
                dialect.mark_view(connection, path.stem, _view_mark(path))
    return applied_now


def _write_vocabulary(connection: Connection) -> None:
    """The vocabulary tables hold observatoire/vocabulary.py's words: rewritten when they
    differ (a new label, a new version), left alone otherwise."""
    from observatoire.vocabulary import vocabulary_tables

    for table, rows in vocabulary_tables().items():
        columns = list(rows[0])
        stored = connection.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table}")).all()
        if sorted(map(tuple, stored), key=repr) == sorted((tuple(r.values()) for r in rows), key=repr):
            continue
        connection.execute(sa.text(f"DELETE FROM {table}"))
        insert_rows(connection, table, pl.DataFrame(rows))


_VIEW_MARK = "observatoire sql/views sha256:"


def _view_mark(path: Path) -> str:
    """What a view remembers of the file it was created from, where the engine can (a
    PostgreSQL comment): a run re-creates the views only when a file changed."""
    return _VIEW_MARK + _checksum(path.read_text("utf-8"))


def view_names() -> list[str]:
    """The analyst views, one per `sql/views/<name>.sql`."""
    return [path.stem for path in sorted((SQL_DIR / "views").glob("*.sql"))]


ROLE_NAMES = {"owner": "observatoire_proprietaire", "loader": "observatoire_chargeur",
              "analyst": "observatoire_analyste"}
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def apply_roles(engine: Engine, **names: str) -> None:
    """Create or update the PostgreSQL roles of `sql/roles/postgresql_roles.sql` (owner,
    loader, read-only analyst) in the database of `engine`, and hand every existing table
    and view to the owner role. Not run by `migrate`: roles are cluster-wide and need an
    administrator; run it once per database. `owner=`, `loader=`, `analyst=` replace the
    default names (ROLE_NAMES)."""
    if not dialect_of(engine).has_roles:
        raise CampaignError("Les rôles ne concernent que PostgreSQL (SQLite n'a pas de droits d'accès).")
    unknown = set(names) - set(ROLE_NAMES)
    if unknown:
        raise TypeError(f"unknown role kinds: {sorted(unknown)}")
    sql = (SQL_DIR / "roles" / "postgresql_roles.sql").read_text("utf-8")
    for kind, name in names.items():
        if not _ROLE_NAME.fullmatch(name):
            raise CampaignError(f"Nom de rôle PostgreSQL refusé : « {name} » (minuscules, chiffres, _).")
        sql = re.sub(rf"\b{ROLE_NAMES[kind]}\b", name, sql)
    with engine.begin() as connection:
        driver_connection = connection.connection.driver_connection
        for statement in _statements(sql):
            driver_connection.execute(statement)  # no parameters: `%I` of format() stays as is


def writer_lock(connection: Connection, scope: str) -> None:
    """Serialise writers of the same scope until the transaction ends (PostgreSQL: an
    advisory lock per scope; SQLite: the database write lock BEGIN IMMEDIATE took)."""
    dialect_of(connection).writer_lock(connection, scope)


def insert_rows(connection: Connection, table: str, frame: pl.DataFrame) -> None:
    """Bulk insert inside the caller's transaction, the engine's fastest way (sql_dialects)."""
    dialect_of(connection).insert_rows(connection, table, frame)


# ------------------------------------------------------------------ load
@dataclass(frozen=True)
class CampaignLoad:
    year: int
    regions: list[str]
    source_files: list[str]  # every file this run looked at
    statuses: pl.DataFrame
    submissions: pl.DataFrame
    issues: pl.DataFrame
    outcomes: pl.DataFrame
    run: dict
    reviews: pl.DataFrame | None = None  # reconciliation_review rows of this run
    personnel: pl.DataFrame | None = None  # submission_personnel rows of this run
    changes: pl.DataFrame | None = None  # centre_change rows of this run
    # False for a run limited to some regions: it leaves the rows of no region alone (the
    # submissions that belong to no region are loaded by the runs over the whole campaign)
    whole_campaign: bool = True


def record_run_start(engine: Engine, run: dict) -> None:
    with write_transaction(engine) as connection:
        insert_rows(connection, "pipeline_run", pl.DataFrame([run]))


def record_run_end(engine: Engine, run_id: str, values: dict) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    with write_transaction(engine) as connection:
        connection.execute(sa.text(f"UPDATE pipeline_run SET {assignments} WHERE run_id = :run_id"),
                           dialect_of(connection).parameters({**values, "run_id": run_id}))


def close_dead_runs(engine: Engine, year: int, noticed_by: str) -> int:
    """Close the `running` rows of campaign `year` left by runs that died: called by the run
    that holds the year (run_lock), so no other run of that year is alive. Their
    finished_at is when this was noticed."""
    noticed_at = dt.datetime.now(dt.timezone.utc)
    values = {"finished_at": noticed_at, "y": year,
              "message": f"exécution interrompue sans se terminer (processus tué, machine arrêtée) : constaté le "
                         f"{noticed_at:%d/%m/%Y à %H:%M:%S} UTC par l'exécution {noticed_by}"}
    with write_transaction(engine) as connection:
        result = connection.execute(sa.text(
            "UPDATE pipeline_run SET outcome = 'interrupted', finished_at = :finished_at, message = :message "
            "WHERE campaign_year = :y AND outcome = 'running'"),
            dialect_of(connection).parameters(values))
        return result.rowcount or 0


def years_with_running_rows(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.execute(sa.text(
            "SELECT DISTINCT campaign_year FROM pipeline_run WHERE outcome = 'running'")).scalars())


def load_campaign(engine: Engine, load: CampaignLoad) -> None:
    """Replace the campaign's rows for its regions, atomically: either every row of the
    new load is there, or the previous content is, whatever happens to the process.

    Rows of the campaign year without a region (submissions of no region, unreadable
    files) are the year's, replaced by any run over the whole campaign; a run limited to
    some regions replaces only those of the files it loads (by key, below)."""
    scope = {"year": load.year}
    region_params = {f"r{i}": code for i, code in enumerate(load.regions)}
    in_regions = ", ".join(f":{name}" for name in region_params) or "NULL"
    no_region = " OR region_code IS NULL" if load.whole_campaign else ""
    with write_transaction(engine) as connection:
        dialect = dialect_of(connection)
        dialect.writer_lock(connection, f"campaign:{load.year}")
        for table in TABLES_BY_SCOPE:
            connection.execute(sa.text(
                f"DELETE FROM {table} WHERE campaign_year = :year "
                f"AND (region_code IN ({in_regions}){no_region})"
            ), {**scope, **region_params})
        # A submission folder shared by single-region runs: the same key may sit in another
        # region's rows; the last run to read it owns it.
        reviews = load.reviews if load.reviews is not None else load.submissions.head(0).select("submission_id")
        for table, key, frame in (("centre_year_status", "status_id", load.statuses),
                                  ("submission", "submission_id", load.submissions),
                                  ("submission_personnel", "submission_id", load.submissions),
                                  ("submission_issue", "issue_id", load.issues),
                                  ("reconciliation_review", "submission_id", reviews)):
            dialect.delete_keys(connection, table, key, frame.get_column(key).to_list())
        dialect.delete_keys(connection, "file_outcome", "source_file", load.source_files,
                            where="campaign_year = :year", params=scope)
        dialect.insert_rows(connection, "file_outcome", load.outcomes)
        dialect.insert_rows(connection, "submission", load.submissions)
        if load.personnel is not None:
            dialect.insert_rows(connection, "submission_personnel", load.personnel)
        dialect.insert_rows(connection, "submission_issue", load.issues)
        dialect.insert_rows(connection, "centre_year_status", load.statuses)
        if load.reviews is not None:
            dialect.insert_rows(connection, "reconciliation_review", load.reviews)
        if load.changes is not None:
            dialect.delete_keys(connection, "centre_change", "change_id", load.changes.get_column("change_id").to_list())
            dialect.insert_rows(connection, "centre_change", load.changes)


def read_current_declarations(engine: Engine, year: int, columns: list[str]) -> pl.DataFrame:
    """What each centre declared in its current (latest valid) submission of exercise
    `year`: `finess_et`, `region_code` and `columns`, as text; empty when the warehouse
    holds no such exercise. The migrations are applied: every column exists."""
    names = ["finess_et", "region_code", *columns]
    with engine.connect() as connection:
        result = connection.execute(sa.text(
            f"SELECT {', '.join(names)} FROM submission "
            "WHERE campaign_year = :year AND is_current AND is_valid AND finess_et IS NOT NULL "
            "ORDER BY finess_et, submission_id"), {"year": year})
        rows = [tuple(None if value is None else str(value) for value in row) for row in result]
    return pl.DataFrame(rows, schema={name: pl.String for name in names}, orient="row")


def campaign_statuses(engine: Engine, year: int, regions: list[str]) -> pl.DataFrame:
    """finess_et, status of the campaign's rows the warehouse holds for `regions` (what a
    load would replace), to judge a run against (transforms/guards.py)."""
    if not regions:
        return pl.DataFrame(schema={"finess_et": pl.String, "status": pl.String})
    names = {f"r{i}": code for i, code in enumerate(regions)}
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT finess_et, status FROM centre_year_status WHERE campaign_year = :year "
            f"AND region_code IN ({', '.join(':' + name for name in names)})"), {"year": year, **names}).all()
    return pl.DataFrame([tuple(row) for row in rows], schema={"finess_et": pl.String, "status": pl.String},
                        orient="row")
