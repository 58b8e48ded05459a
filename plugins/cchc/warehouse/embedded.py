"""A project-local PostgreSQL server, started on demand and reused while it runs.

Binaries come from the ``pgserver`` wheel (it bundles a server) or, failing that, from a system
installation (``pg_ctl`` on PATH or /usr/lib/postgresql/*/bin). The data folder lives under the
project's state dir (``.cchc/pg``). PostgreSQL refuses to run as root, so under root the server runs
as a dedicated system user (``cchc-pg``), created on first use, and the folders above the data
folder and the binaries get o+x where they lack it (as the pgserver wheel does).

The server listens on 127.0.0.1 only, with trust authentication: it is a development and demo
database. Point CCHC_WAREHOUSE_URL at a managed server for anything else.
"""

from __future__ import annotations

import fcntl
import glob
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PORT = 54329
SUPERUSER = "cchc"
SYSTEM_USER = "cchc-pg"
DATABASES = ("cchc", "airflow")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be started or reached; the message says why and what to do."""


def find_bin_dir() -> Path:
    """The folder with initdb, pg_ctl and postgres."""
    override = os.environ.get("CCHC_PG_BIN")
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

    def url(self, database: str = "cchc") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

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
                return self.url()
            bin_dir = find_bin_dir()
            user = self._run_as()
            if user is not None:
                for path in (self.root, bin_dir):
                    _ensure_searchable(path)
            self._init_if_needed(bin_dir, user)
            self._start(bin_dir, user)
            self._create_databases()
            return self.url()

    def _init_if_needed(self, bin_dir: Path, user: pwd.struct_passwd | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
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
        res = self._cmd([str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                         "--auth=trust", "--encoding=UTF8", "--no-locale"], user)
        if res.returncode != 0:
            hint = ""
            if user is not None and "Permission denied" in res.stderr:
                hint = (f"\nPostgreSQL refuses to run as root, so it runs as the system user "
                        f"{SYSTEM_USER!r}: every folder above {self.root} must be searchable by it "
                        "(chmod o+x), or set CCHC_HOME to a folder it can reach")
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}:\n{res.stderr.strip()}{hint}")

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
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                "-c synchronous_commit=off -c max_connections=100 -c shared_buffers=256MB "
                "-c work_mem=32MB")
        log.info("starting embedded PostgreSQL on 127.0.0.1:%s", self.port)
        res = self._cmd([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                         "-o", opts, "-w", "-t", "60", "start"], user)
        if res.returncode != 0:
            tail = ""
            try:
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            except OSError:
                pass
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start (data folder {self.data_dir}):\n{res.stderr.strip()}\n"
                f"--- last lines of {self.log_file} ---\n{tail}"
            )
        for _ in range(50):
            if self.running_port() is not None:
                return
            time.sleep(0.1)

    def _create_databases(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            existing = {r[0] for r in conn.execute("select datname from pg_database")}
            for db in DATABASES:
                if db not in existing:
                    conn.execute(f'create database "{db}"')

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
