"""A project-local PostgreSQL server, started on demand and reused while it runs.

Binaries come from the ``pgserver`` wheel (it bundles a server) or, failing that, from a system
installation (``pg_ctl`` on PATH or /usr/lib/postgresql/*/bin). The data folder lives under the
project's state dir (``.cchc/pg``). PostgreSQL refuses to run as root, so under root the server runs
as a dedicated system user (``cchc-pg``), created on first use, and the folders above the data
folder and the binaries get o+x where they lack it (as the pgserver wheel does).

The server listens on 127.0.0.1 and on a unix socket in ``.cchc/pg/run``, and every connection
authenticates with a password (scram-sha-256). Two roles with generated passwords, each kept in a
file of mode 0600 next to the data folder:

* ``cchc_admin`` (``admin.password``): the bootstrap superuser, used only to set the server up and
  to manage login roles (``cchc readers``);
* ``cchc`` (``cchc.password``): the pipeline's role, NOT a superuser. It owns the databases
  ``cchc`` and ``airflow`` and so every schema the pipeline creates in them; it may create
  databases (the tests' and benchmarks' throw-away databases), not roles.

The group role ``cchc_reader`` (NOLOGIN) is created here too; BI logins become its members.

A data folder made by the previous version (trust authentication, the pipeline connecting as the
bootstrap superuser ``cchc``) is migrated on its first start: the bootstrap superuser is renamed
``cchc_admin``, a non-superuser ``cchc`` takes over the ownership of every database and object the
old one owned, passwords are set, pg_hba.conf is rewritten and the server reloaded. No data moves.
"""

from __future__ import annotations

import fcntl
import glob
import secrets
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

DEFAULT_PORT = 54329
ADMIN_ROLE = "cchc_admin"  # the bootstrap superuser
PIPELINE_ROLE = "cchc"  # owns the databases below; not a superuser
READER_GROUP = "cchc_reader"  # NOLOGIN group of the BI logins (see cchc.warehouse.roles)
LEGACY_SUPERUSER = "cchc"  # the bootstrap superuser of data folders made before passwords
SYSTEM_USER = "cchc-pg"
DATABASES = ("cchc", "airflow")
#: first line of the pg_hba.conf this module writes; a file without it is migrated
HBA_MARKER = "# cchc: password authentication (scram-sha-256)"
HBA = HBA_MARKER + """ -- written by cchc.warehouse.embedded; edits are lost
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
"""
#: unix socket paths longer than this do not fit in sockaddr_un (107 bytes + NUL)
MAX_SOCKET_PATH = 100


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be started or reached; the message says why and what to do."""


def find_bin_dir() -> Path:
    """The folder with initdb, pg_ctl and postgres."""
    from cchc.settings import embedded_pg_bin

    override = embedded_pg_bin()
    if override:
        if all((Path(override) / b).exists() for b in ("pg_ctl", "initdb", "postgres")):
            return Path(override)
        raise EmbeddedPostgresError(
            f"CCHC_PG_BIN={override} does not contain initdb, pg_ctl and postgres; unset it to use "
            "the pgserver wheel's binaries or a system PostgreSQL")
    candidates: list[Path] = []
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.submodule_search_locations:
        candidates.append(Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin")
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for c in candidates:
        if (c / "pg_ctl").exists() and (c / "initdb").exists() and (c / "postgres").exists():
            return c
    raise EmbeddedPostgresError(
        "no PostgreSQL binaries found: install the project's lock file (make install, it brings the "
        "pgserver wheel), or a system PostgreSQL (apt-get install postgresql), or set CCHC_PG_BIN, "
        "or point CCHC_WAREHOUSE_URL at an external server"
    )


@dataclass
class EmbeddedPostgres:
    root: Path  # e.g. .cchc/pg ; holds data/, server.log, lock
    port: int = DEFAULT_PORT

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def socket_dir(self) -> Path | None:
        """Folder of the server's unix socket; None when its path would be too long for one."""
        folder = self.root / "run"
        return folder if len(str(folder / f".s.PGSQL.{self.port}")) <= MAX_SOCKET_PATH else None

    def secret_file(self, role: str) -> Path:
        return self.root / f"{'admin' if role == ADMIN_ROLE else role}.password"

    def password(self, role: str) -> str:
        """The generated password of ``role`` (ADMIN_ROLE or PIPELINE_ROLE)."""
        path = self.secret_file(role)
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise EmbeddedPostgresError(
                f"the password file {path} of the embedded PostgreSQL role {role!r} is missing: restore "
                f"it, or move {self.root} away to start over with an empty server") from None

    def _ensure_secret(self, role: str) -> str:
        """Read the password of ``role``, generating it (mode 0600) the first time."""
        path = self.secret_file(role)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(24) + "\n")
        return self.password(role)

    def url(self, database: str = "cchc") -> str:
        """URL of ``database`` for the pipeline's role (password included), over TCP."""
        return _url(PIPELINE_ROLE, self.password(PIPELINE_ROLE), self.port, database)

    def socket_url(self, database: str = "cchc", role: str = PIPELINE_ROLE) -> str:
        """The same through the unix socket (libpq form ``postgresql://u:p@/db?host=DIR&port=N``)."""
        if self.socket_dir is None:
            raise EmbeddedPostgresError(f"{self.root} is too deep for a unix socket; use the TCP URL")
        return (f"postgresql://{quote(role, safe='')}:{quote(self.password(role), safe='')}@/{database}"
                f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}")

    def admin_url(self, database: str = "postgres") -> str:
        """URL of ``database`` for the bootstrap superuser: setup and role management only."""
        return _url(ADMIN_ROLE, self.password(ADMIN_ROLE), self.port, database)

    # -- running as a non-root user ---------------------------------------------------------
    def _run_as(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            useradd = shutil.which("useradd")
            if not useradd:
                raise EmbeddedPostgresError(
                    f"running as root and no user {SYSTEM_USER!r} to run PostgreSQL as, and no "
                    "useradd to create it; run as a normal user or set CCHC_WAREHOUSE_URL"
                ) from None
            subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            SYSTEM_USER], check=True, capture_output=True)
            return pwd.getpwnam(SYSTEM_USER)

    def _cmd(self, args: list[str], user: pwd.struct_passwd | None, **kw) -> subprocess.CompletedProcess:
        def demote() -> None:
            if user is not None:
                os.setgid(user.pw_gid)
                os.setgroups([])
                os.setuid(user.pw_uid)

        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(args, preexec_fn=demote, env=env, capture_output=True, text=True, **kw)

    # -- state ------------------------------------------------------------------------------
    def running_port(self) -> int | None:
        """The port of a server running on our data folder, or None."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the server user
        return port

    @contextmanager
    def _lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another process starting the embedded PostgreSQL ...")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    # -- lifecycle --------------------------------------------------------------------------
    def ensure_running(self) -> str:
        """Start the server when it is not running (initialising the folder the first time)."""
        with self._lock():
            port = self.running_port()
            if port is not None:
                self.port = port
                if not self._hba_is_current():  # started by the previous version: trust auth
                    self._migrate_from_trust()
                return self.url()
            bin_dir = find_bin_dir()
            user = self._run_as()
            if user is not None:
                for path in (self.root, bin_dir):
                    _ensure_searchable(path)
            fresh = self._init_if_needed(bin_dir, user)
            self._start(bin_dir, user)
            if fresh or self._hba_is_current():
                self._provision()
            else:
                self._migrate_from_trust()
            return self.url()

    # -- authentication ---------------------------------------------------------------------
    def _hba_is_current(self) -> bool:
        try:
            return (self.data_dir / "pg_hba.conf").read_text().startswith(HBA_MARKER)
        except FileNotFoundError:
            return False

    def _write_hba(self) -> None:
        hba = self.data_dir / "pg_hba.conf"
        st = self.data_dir.stat()
        tmp = hba.with_name("pg_hba.conf.cchc-new")
        tmp.write_text(HBA)
        os.chmod(tmp, 0o600)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, hba)

    def _provision(self, connect_admin=None) -> None:
        """Roles, passwords, databases and ownership as the module docstring says (idempotent)."""
        import psycopg

        admin_pw = self._ensure_secret(ADMIN_ROLE)
        pipeline_pw = self._ensure_secret(PIPELINE_ROLE)
        connect_admin = connect_admin or (
            lambda db: psycopg.connect(_url(ADMIN_ROLE, admin_pw, self.port, db), autocommit=True))
        _provision(connect_admin, admin_pw, pipeline_pw)

    def _migrate_from_trust(self) -> None:
        """Move a data folder of the previous version (trust auth) to passwords, keeping its data."""
        import psycopg
        from psycopg import sql

        log.warning("embedded PostgreSQL in %s uses trust authentication (made by an older version): "
                    "setting passwords and rewriting pg_hba.conf", self.data_dir)

        def trusted(role: str, db: str = "postgres"):
            return psycopg.connect(f"postgresql://{role}@127.0.0.1:{self.port}/{db}", autocommit=True)

        try:
            first = trusted(ADMIN_ROLE)  # an interrupted migration already renamed the superuser
        except psycopg.OperationalError:
            try:
                first = trusted(LEGACY_SUPERUSER)
            except psycopg.OperationalError as exc:
                raise EmbeddedPostgresError(
                    f"{self.data_dir}/pg_hba.conf was not written by cchc and the server refuses a "
                    f"connection without password ({str(exc).strip()}); restore the file written by "
                    f"cchc (it starts with {HBA_MARKER!r}) or move {self.root} away") from None
        with first as conn:
            bootstrap = conn.execute("select rolname from pg_roles where oid = 10").fetchone()[0]
            if bootstrap != ADMIN_ROLE:
                # the session user cannot be renamed: do it from a temporary superuser's session
                helper = "cchc_migrate"
                if not conn.execute("select 1 from pg_roles where rolname = %s", (helper,)).fetchone():
                    conn.execute(sql.SQL("create role {} superuser login").format(sql.Identifier(helper)))
                with trusted(helper) as hc:
                    hc.execute(sql.SQL("alter role {} rename to {}").format(
                        sql.Identifier(bootstrap), sql.Identifier(ADMIN_ROLE)))
        with trusted(ADMIN_ROLE) as conn:
            conn.execute("drop role if exists cchc_migrate")
        self._provision(connect_admin=lambda db: trusted(ADMIN_ROLE, db))
        self._write_hba()
        with trusted(ADMIN_ROLE) as conn:
            conn.execute("select pg_reload_conf()")
        for _ in range(50):  # the postmaster reloads asynchronously
            try:
                psycopg.connect(f"postgresql://{ADMIN_ROLE}@127.0.0.1:{self.port}/postgres").close()
            except psycopg.OperationalError:
                break
            time.sleep(0.1)
        else:
            raise EmbeddedPostgresError(
                f"pg_hba.conf of {self.data_dir} was rewritten but the server still accepts connections "
                f"without a password; see {self.log_file}")
        with psycopg.connect(self.url()) as conn:
            conn.execute("select 1")
        log.info("embedded PostgreSQL migrated to password authentication; the pipeline now "
                 "connects as %r (not a superuser)", PIPELINE_ROLE)

    def _init_if_needed(self, bin_dir: Path, user: pwd.struct_passwd | None) -> bool:
        """initdb the data folder when it has none; True when it did."""
        if (self.data_dir / "PG_VERSION").exists():
            return False
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} exists but is not a PostgreSQL data folder (no PG_VERSION): it may "
                "be corrupt or half-initialised; move it away (or `cchc db-reset`) and retry"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            for p in (self.root, self.data_dir):
                os.chown(p, user.pw_uid, user.pw_gid)
        log.info("initialising embedded PostgreSQL in %s", self.data_dir)
        pwfile = self.root / ".initdb-password"  # read by initdb (maybe as SYSTEM_USER), then removed
        pwfile.unlink(missing_ok=True)
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self._ensure_secret(ADMIN_ROLE) + "\n")
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            res = self._cmd([str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", ADMIN_ROLE,
                             "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                             "--no-locale"], user)
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            hint = ""
            if user is not None and "Permission denied" in res.stderr:
                hint = (f"\nPostgreSQL refuses to run as root, so it runs as the system user "
                        f"{SYSTEM_USER!r}: every folder above {self.root} must be searchable by it "
                        "(chmod o+x), or set CCHC_HOME to a folder it can reach")
            shutil.rmtree(self.data_dir, ignore_errors=True)  # a half-made folder would block retries
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}:\n{res.stderr.strip()}{hint}")
        self._write_hba()
        return True

    def _start(self, bin_dir: Path, user: pwd.struct_passwd | None) -> None:
        if _port_in_use(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on 127.0.0.1 is taken by another program; set CCHC_PG_PORT to a "
                "free port, or CCHC_WAREHOUSE_URL to use an existing server"
            )
        if user is not None:
            self.log_file.touch()
            os.chown(self.log_file, user.pw_uid, user.pw_gid)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        sockets = ""
        if self.socket_dir is not None:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            if user is not None:
                os.chown(self.socket_dir, user.pw_uid, user.pw_gid)
            sockets = str(self.socket_dir)
        else:
            log.warning("%s is too deep for a unix socket: the embedded server listens on TCP only", self.root)
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{sockets}' "
                "-c synchronous_commit=off -c max_connections=100 -c shared_buffers=256MB "
                "-c work_mem=32MB")
        log.info("starting embedded PostgreSQL on 127.0.0.1:%s", self.port)
        res = self._cmd([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                         "-o", opts, "-w", "-t", "60", "start"], user)
        if res.returncode != 0:
            tail = ""
            with suppress(OSError):
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start (data folder {self.data_dir}):\n{res.stderr.strip()}\n"
                f"--- last lines of {self.log_file} ---\n{tail}"
            )
        for _ in range(50):
            if self.running_port() is not None:
                return
            time.sleep(0.1)

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        with self._lock():
            if self.running_port() is None:
                return False
            res = self._cmd([str(find_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                             "-w", "stop"], self._run_as())
            if res.returncode != 0:
                raise EmbeddedPostgresError(f"pg_ctl stop failed: {res.stderr.strip()}")
            return True


def _url(role: str, password: str, port: int, database: str) -> str:
    return f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}/{database}"


def _provision(connect_admin, admin_password: str, pipeline_password: str) -> None:
    """Set up roles, passwords, databases and ownership through superuser connections.

    ``connect_admin(dbname)`` opens an autocommit connection as ADMIN_ROLE. Idempotent: run on
    every start of the server (a few milliseconds once done).
    """
    from psycopg import sql

    def verifier(conn, role: str, password: str) -> sql.Composable:
        # hashed here, so that the clear password never reaches the server (nor its log)
        return sql.Literal(conn.pgconn.encrypt_password(password.encode(), role.encode(),
                                                        b"scram-sha-256").decode())

    ident = sql.Identifier
    with connect_admin("postgres") as conn:
        conn.execute(sql.SQL("alter role {} password {}").format(
            ident(ADMIN_ROLE), verifier(conn, ADMIN_ROLE, admin_password)))
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (PIPELINE_ROLE,)).fetchone()
        conn.execute(sql.SQL("{} role {} login nosuperuser createdb nocreaterole password {}").format(
            sql.SQL("alter" if exists else "create"), ident(PIPELINE_ROLE),
            verifier(conn, PIPELINE_ROLE, pipeline_password)))
        if not conn.execute("select 1 from pg_roles where rolname = %s", (READER_GROUP,)).fetchone():
            conn.execute(sql.SQL("create role {} nologin").format(ident(READER_GROUP)))
        existing = {r[0] for r in conn.execute("select datname from pg_database")}
        for db in DATABASES:
            if db not in existing:
                conn.execute(sql.SQL("create database {} owner {}").format(ident(db), ident(PIPELINE_ROLE)))
        # databases the bootstrap superuser owns (made by the previous version) go to the pipeline
        owned = [r[0] for r in conn.execute(
            "select datname from pg_database where datdba = 10 and not datistemplate "
            "and datname <> 'postgres'")]
        for db in owned:
            conn.execute(sql.SQL("alter database {} owner to {}").format(ident(db), ident(PIPELINE_ROLE)))
        for db in (*DATABASES, "postgres"):
            # only the pipeline and the BI logins connect (BI logins to cchc only); nobody else creates
            # temporary tables there. The pipeline owns cchc and airflow; it needs postgres to create
            # and drop throw-away databases.
            conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(ident(db)))
        conn.execute(sql.SQL("grant connect on database postgres to {}").format(ident(PIPELINE_ROLE)))
        conn.execute(sql.SQL("grant connect on database {} to {}").format(ident("cchc"), ident(READER_GROUP)))
    # objects the superuser owns there (all of them in a folder of the previous version; those a
    # process still connected from before the migration created afterwards) go to the pipeline
    for db in dict.fromkeys([*DATABASES, *owned]):
        with connect_admin(db) as conn:
            _transfer_objects(conn, PIPELINE_ROLE)


def _transfer_objects(conn, new_owner: str) -> None:
    """Give ``new_owner`` every schema, relation, routine and type the bootstrap superuser owns
    outside the system schemas of the connected database (REASSIGN OWNED refuses the bootstrap
    superuser: it also owns the catalogs)."""
    from psycopg import sql

    user_ns = "left(n.nspname, 3) <> 'pg_' and n.nspname <> 'information_schema'"
    to = sql.Identifier(new_owner)
    for (schema,) in conn.execute(f"select n.nspname from pg_namespace n where n.nspowner = 10 and {user_ns}"):
        conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), to))
    kinds = {"r": "table", "p": "table", "f": "foreign table", "v": "view", "m": "materialized view",
             "S": "sequence"}
    # tables first: a table takes its indexes and owned (serial/identity) sequences along
    for kind_group in (("r", "p", "f"), ("v", "m"), ("S",)):
        rows = conn.execute(
            f"select c.relkind, n.nspname, c.relname from pg_class c join pg_namespace n "
            f"on n.oid = c.relnamespace where c.relowner = 10 and c.relkind = any(%s) and {user_ns}",
            (list(kind_group),)).fetchall()
        for kind, schema, name in rows:
            conn.execute(sql.SQL("alter {} {}.{} owner to {}").format(
                sql.SQL(kinds[kind]), sql.Identifier(schema), sql.Identifier(name), to))
    for (routine,) in conn.execute(
            f"select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            f"where p.proowner = 10 and {user_ns}").fetchall():
        conn.execute(sql.SQL("alter routine {} owner to {}").format(sql.SQL(routine), to))
    for kind, typ in conn.execute(
            f"select t.typtype, t.oid::regtype::text from pg_type t join pg_namespace n on n.oid = t.typnamespace "
            f"where t.typowner = 10 and {user_ns} and t.typelem = 0 "
            f"and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')").fetchall():
        conn.execute(sql.SQL("alter {} {} owner to {}").format(
            sql.SQL("domain" if kind == "d" else "type"), sql.SQL(typ), to))


def _ensure_searchable(path: Path) -> None:
    """Let the server's system user reach ``path``: add o+x to any folder above it that lacks it.

    Only done when running as root (the server then runs as SYSTEM_USER), as the pgserver wheel
    does; e.g. a clone under ``mktemp -d`` (mode 700) would otherwise be out of its reach. o+x lets
    a user pass through a folder, not list it.
    """
    import stat

    for folder in [path, *path.parents]:
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            os.chmod(folder, mode | stat.S_IXOTH)
            log.warning("added o+x to %s so that the PostgreSQL user %s can reach %s",
                        folder, SYSTEM_USER, path)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
