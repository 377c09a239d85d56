"""A Neo4j Community + GDS server run by mdesign itself, from Maven Central jars.

No tarball, Docker image or Debian package of Neo4j is needed: ``pom.xml`` beside this
module resolves Neo4j 5.26, the open GDS 2.13 plugin and Neo4j Browser, and the server is
started with plain ``java`` (main class ``org.neo4j.server.CommunityEntryPoint``).

Layout under ``MDESIGN_HOME``::

    credentials.json   generated password and ports (mode 0600)
    neo4j/conf/neo4j.conf
    neo4j/data/ logs/ run/ import/
    neo4j/run/mdesign-neo4j.pid

Safety rules this module keeps:

* loopback only, authentication on, a generated password;
* one server per data directory: a second server on the same store hangs instead of
  failing, so ``start`` checks the pid file *and* the port before launching;
* a server whose process died (crash, ``kill -9``) is detected and restarted; Neo4j
  recovers every committed transaction from its log on the next start;
* only this home's own JVM is ever signalled: a pid file naming any other process (the
  pid was reused, the file was edited) is reported as stale and removed, never obeyed;
* the password never appears on a command line (the admin tool reads it from a 0600
  argument file that is deleted at once), and the store is private: the JVM and the admin
  tool run with umask 077, folders are 0700 and files 0600 (an older, more open home is
  tightened at every start); CORS is limited to the Browser's own origin.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mdesign import cypher
from mdesign.core.errors import ServerError
from mdesign.kb import settings
from mdesign.kb.server import browser

JVM_FLAGS = [
    "-XX:+UseG1GC",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
]
MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
ADMIN_CLASS = "org.neo4j.cli.AdminTool"
UMASK = 0o077  # every file the JVM or the admin tool creates is the owner's only


@dataclass(frozen=True)
class ServerStatus:
    """What ``mdesign db status`` reports."""

    running: bool
    pid: int | None
    bolt_port: int | None
    http_port: int | None
    home: Path
    note: str = ""


def _port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def _free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there, else any free loopback port."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise ServerError("no free TCP port on 127.0.0.1", "free a port and retry")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _cmdline(pid: int) -> list[str]:
    """The argv of process ``pid`` (empty when it is gone, a zombie or not readable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [os.fsdecode(a) for a in raw.split(b"\0")[:-1]]


def _environ(pid: int) -> dict[str, str] | None:
    """The environment of process ``pid``, or None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (os.fsdecode(kv).partition("=") for kv in raw.split(b"\0") if kv)
    return {k: v for k, _, v in pairs}


@contextlib.contextmanager
def _pidfd(pid: int):
    """A pidfd pinning process ``pid`` (None where the kernel has none): signals sent
    through it cannot reach another process that later reuses the pid."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _send(pid: int, fd: int | None, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if fd is None:
            os.kill(pid, sig)
        else:
            signal.pidfd_send_signal(fd, sig)


def _exited(pid: int, fd: int | None) -> bool:
    if fd is not None:  # a pidfd turns readable when its process exits
        return bool(select.select([fd], [], [], 0)[0])
    return not _pid_alive(pid)


def _make_private(path: Path) -> None:
    """Folders 0700 and files 0600 under ``path`` (owner bits kept); links are skipped,
    never followed. Top-down, so a folder is closed before its content is changed."""
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            p = os.path.join(root, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
                continue
            mode = 0o700 if stat.S_ISDIR(st.st_mode) else stat.S_IMODE(st.st_mode) & 0o700
            with contextlib.suppress(FileNotFoundError):
                os.chmod(p, mode)


def _write_private_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


class ManagedNeo4j:
    """The Neo4j server under ``MDESIGN_HOME``: install, start, stop, status."""

    def __init__(self, home: Path | None = None, jars: Path | None = None) -> None:
        self.home = home or settings.home()
        self.neo4j_home = self.home / "neo4j"
        self.jars = jars or settings.jar_cache()
        self.pid_file = self.neo4j_home / "run" / "mdesign-neo4j.pid"
        self.log_file = self.neo4j_home / "logs" / "neo4j.log"
        self.console_log = self.neo4j_home / "logs" / "console.log"
        self.credentials_file = self.home / "credentials.json"

    # -- installation -------------------------------------------------------------------

    def jars_installed(self) -> bool:
        return (self.jars / ".complete").exists()

    def install_jars(self, echo=print) -> None:
        """Resolve the jars from Maven Central into the shared cache (once)."""
        if self.jars_installed():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServerError(
                "Maven (`mvn`) is not on PATH; it resolves Neo4j and GDS from Maven Central",
                "install Maven (e.g. `apt-get install -y maven`) and retry",
            )
        self.jars.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".jars-", dir=self.jars.parent))
        pom = resources.files("mdesign.kb.server").joinpath("pom.xml")
        echo(f"resolving Neo4j {settings.NEO4J_VERSION} + GDS {settings.GDS_VERSION} "
             f"+ Browser {settings.BROWSER_VERSION} from Maven Central (~150 MB, once)")
        with resources.as_file(pom) as pom_path:
            for target, flag in (("plugins", "-DincludeGroupIds"), ("lib", "-DexcludeGroupIds")):
                cmd = [mvn, "-q", "-B", "-f", str(pom_path), "dependency:copy-dependencies",
                       f"{flag}=org.neo4j.gds", f"-DoutputDirectory={staging / target}"]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    shutil.rmtree(staging, ignore_errors=True)
                    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["?"]
                    raise ServerError(
                        f"Maven could not resolve the Neo4j jars ({tail[0][:200]})",
                        "check that Maven Central is reachable, then rerun `mdesign db start`",
                    )
        (staging / ".complete").write_text(json.dumps({
            "neo4j": settings.NEO4J_VERSION, "gds": settings.GDS_VERSION,
            "browser": settings.BROWSER_VERSION}))
        if self.jars.exists():
            shutil.rmtree(self.jars)
        staging.rename(self.jars)

    def _classpath(self) -> str:
        # The Browser copy with mdesign's guide and style comes first: Neo4j serves
        # Browser from the first `browser/` folder on the class path (see browser.py).
        try:
            overlay = browser.overlay_jar(self.jars / "lib", self.neo4j_home / "browser")
        except FileNotFoundError as exc:
            raise ServerError(f"the Neo4j jars in {self.jars} are incomplete ({exc})",
                              f"remove {self.jars} and rerun `mdesign db start`") from exc
        return f"{overlay}:{self.jars / 'plugins'}/*:{self.jars / 'lib'}/*"

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise ServerError("`java` is not on PATH; Neo4j 5.26 needs Java 17",
                              "install OpenJDK 17 (e.g. `apt-get install -y openjdk-17-jre`)")
        return java

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.neo4j_home)
        env["NEO4J_CONF"] = str(self.neo4j_home / "conf")
        return env

    def credentials(self) -> dict:
        return json.loads(self.credentials_file.read_text())

    def _make_home_private(self) -> None:
        """``MDESIGN_HOME`` 0700 and the whole Neo4j tree 0700/0600, also for a home
        created before mdesign kept it private. A shared folder (sticky, like /tmp) or
        one owned by someone else given as ``MDESIGN_HOME`` is left as it is."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = self.home.stat()
        if st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX and st.st_mode & 0o077:
            os.chmod(self.home, 0o700)
        self.neo4j_home.mkdir(mode=0o700, exist_ok=True)
        if self.credentials_file.exists():
            os.chmod(self.credentials_file, 0o600)
        os.chmod(self.neo4j_home, 0o700)
        _make_private(self.neo4j_home)

    def _write_config(self, creds: dict) -> None:
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.neo4j_home / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        h = self.neo4j_home
        conf = {
            "server.default_listen_address": "127.0.0.1",
            "server.default_advertised_address": "127.0.0.1",
            "server.bolt.enabled": "true",
            "server.bolt.listen_address": f"127.0.0.1:{creds['bolt_port']}",
            "server.bolt.advertised_address": f"127.0.0.1:{creds['bolt_port']}",
            "server.http.enabled": "true",
            "server.http.listen_address": f"127.0.0.1:{creds['http_port']}",
            "server.http.advertised_address": f"127.0.0.1:{creds['http_port']}",
            "server.https.enabled": "false",
            # Browser pages of other origins must not read the HTTP API's answers.
            "dbms.security.http_access_control_allow_origin":
                f"http://127.0.0.1:{creds['http_port']}",
            # mdesign's guide and style, served by this server (kb/server/browser.py).
            "browser.remote_content_hostname_whitelist": "127.0.0.1",
            "browser.post_connect_cmd": browser.post_connect_commands(creds["http_port"]),
            "dbms.security.auth_enabled": "true",
            "dbms.security.procedures.unrestricted": "gds.*",
            "dbms.usage_report.enabled": "false",
            "client.allow_telemetry": "false",
            "server.memory.pagecache.size": os.environ.get("MDESIGN_NEO4J_PAGECACHE", "512m"),
            "server.directories.plugins": str(self.jars / "plugins"),
            "server.directories.lib": str(self.jars / "lib"),
            "server.directories.data": str(h / "data"),
            "server.directories.logs": str(h / "logs"),
            "server.directories.run": str(h / "run"),
            "server.directories.import": str(h / "import"),
            # A local knowledge base does not need days of transaction logs: bulk imports
            # would otherwise leave gigabytes of 256 MB preallocated log files behind.
            "db.tx_log.rotation.retention_policy": "2 files",
            "db.tx_log.rotation.size": "64M",
            "db.tx_log.preallocate": "false",
        }
        text = "# Written by mdesign (kb/server); regenerated at every `mdesign db start`.\n"
        text += "".join(f"{k}={v}\n" for k, v in conf.items())
        _write_private_text(h / "conf" / "neo4j.conf", text)

    def _ensure_credentials(self) -> dict:
        if self.credentials_file.exists():
            return self.credentials()
        creds = {
            "user": "neo4j",
            "password": secrets.token_urlsafe(24),
            "bolt_port": _free_port(int(os.environ.get("MDESIGN_BOLT_PORT", "7687"))),
            "http_port": _free_port(int(os.environ.get("MDESIGN_HTTP_PORT", "7474"))),
        }
        settings.write_private_json(self.credentials_file, creds)
        return creds

    def _set_initial_password(self, creds: dict) -> None:
        marker = self.neo4j_home / "data" / ".mdesign-password-set"
        if marker.exists():
            return
        # Not on the command line, where every local user sees it (`ps`): the java
        # launcher reads the main class and its arguments from an @argument file, 0600 in
        # the 0700 run folder, deleted as soon as the tool has run.
        pw = creds["password"].replace("\\", "\\\\").replace('"', '\\"')
        argfile = self.neo4j_home / "run" / f".set-password-{secrets.token_hex(8)}.args"
        fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                # `--` ends the options: a password may begin with `-` (token_urlsafe's
                # alphabet has it), which the tool would otherwise read as an option.
                fh.write(f'{ADMIN_CLASS}\ndbms\nset-initial-password\n--\n"{pw}"\n')
            cmd = [self._java(), "-Xmx256m", "-cp", self._classpath(), f"@{argfile}"]
            proc = subprocess.run(cmd, env=self._env(), capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, umask=UMASK)
        finally:
            argfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
            raise ServerError(
                f"could not set the Neo4j password: {said[0][:200]}",
                f"remove {self.neo4j_home} to start over (this deletes the stored knowledge base)",
            )
        _write_private_text(marker, "set\n")

    # -- process control ----------------------------------------------------------------

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_own_server(self, pid: int) -> bool:
        """Whether ``pid`` is this home's Neo4j JVM: ``java`` running the server's main
        class with ``--home-dir`` this home's neo4j folder (and, where readable, the same
        ``NEO4J_HOME``). Nothing else is ever signalled or reported as the server."""
        argv = _cmdline(pid)
        if not argv or Path(argv[0]).name != "java" or MAIN_CLASS not in argv:
            return False
        mine = os.path.realpath(self.neo4j_home)
        homes = [a.split("=", 1)[1] for a in argv if a.startswith("--home-dir=")]
        if [os.path.realpath(h) for h in homes] != [mine]:
            return False
        env = _environ(pid)
        return env is None or os.path.realpath(env.get("NEO4J_HOME", mine)) == mine

    def _stale_note(self, pid: int) -> str:
        return (f"stale pid file {self.pid_file}: pid {pid} is not this home's Neo4j "
                "server (that process is left alone)")

    def _pid_state(self) -> tuple[int | None, str]:
        """The pid file's pid and what it names: "none", "ours", "dead" or "stale"."""
        pid = self._read_pid()
        if pid is None:
            return None, "none"
        if not _pid_alive(pid):
            return pid, "dead"
        return pid, "ours" if self.is_own_server(pid) else "stale"

    def status(self) -> ServerStatus:
        creds = self.credentials() if self.credentials_file.exists() else {}
        bolt, http = creds.get("bolt_port"), creds.get("http_port")
        pid, state = self._pid_state()
        if state == "dead":
            return ServerStatus(False, pid, bolt, http, self.home,
                                note="the server process died (crash or kill); "
                                     "`mdesign db start` restarts it")
        if state == "stale":
            return ServerStatus(False, None, bolt, http, self.home,
                                note=self._stale_note(pid) + "; `mdesign db start` or "
                                     "`mdesign db stop` removes the file")
        running = state == "ours" and bolt is not None and _port_open(bolt)
        return ServerStatus(running, pid if running else None, bolt, http, self.home)

    def start(self, timeout: float = 180.0, echo=print) -> ServerStatus:
        """Start the server, or reuse the one already running. Idempotent."""
        self.install_jars(echo=echo)
        creds = self._ensure_credentials()
        self._make_home_private()
        pid, state = self._pid_state()
        if state == "ours":
            if self._wait_ready(creds, pid, timeout):
                return self.status()
            raise ServerError(f"a Neo4j process (pid {pid}) owns {self.neo4j_home} "
                              f"but does not answer on port {creds['bolt_port']}",
                              "run `mdesign db stop` and then `mdesign db start`")
        if state == "dead":
            echo(f"the previous server (pid {pid}) is gone; restarting it "
                 "(Neo4j recovers committed transactions from its log)")
            self.pid_file.unlink(missing_ok=True)
        elif state == "stale":
            echo(self._stale_note(pid) + "; removed it")
            self.pid_file.unlink(missing_ok=True)
        for port in (creds["bolt_port"], creds["http_port"]):
            if _port_open(port):
                raise ServerError(
                    f"port {port} on 127.0.0.1 is taken by another program",
                    f"stop that program, or edit the ports in {self.credentials_file}",
                )
        self._write_config(creds)
        self._set_initial_password(creds)
        cmd = [self._java(),
               f"-Xms{os.environ.get('MDESIGN_NEO4J_HEAP_INITIAL', '1g')}",
               f"-Xmx{os.environ.get('MDESIGN_NEO4J_HEAP', '2g')}",
               *JVM_FLAGS, "-cp", self._classpath(), MAIN_CLASS,
               f"--home-dir={self.neo4j_home}", f"--config-dir={self.neo4j_home / 'conf'}"]
        fd = os.open(self.console_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "ab") as out:
            proc = subprocess.Popen(cmd, env=self._env(), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=self.neo4j_home, umask=UMASK)
        _write_private_text(self.pid_file, f"{proc.pid}\n")
        if not self._wait_ready(creds, proc.pid, timeout):
            tail = self._log_tail()
            self.stop()
            raise ServerError(f"Neo4j did not start within {timeout:.0f} s ({tail})",
                              f"see {self.log_file} and {self.console_log}")
        return self.status()

    def _wait_ready(self, creds: dict, pid: int, timeout: float) -> bool:
        from neo4j import GraphDatabase
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        deadline = time.monotonic() + timeout
        uri = f"neo4j://127.0.0.1:{creds['bolt_port']}"
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return False
            if _port_open(creds["bolt_port"]):
                try:
                    with GraphDatabase.driver(uri, auth=(creds["user"], creds["password"])) as d:
                        d.execute_query(cypher.load("ping"), database_="neo4j")
                    return True
                except (ServiceUnavailable, Neo4jError, OSError):
                    pass
            time.sleep(0.5)
        return False

    def _log_tail(self) -> str:
        for path in (self.console_log, self.log_file):
            if path.exists():
                lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
                if lines:
                    return lines[-1][:200]
        return "no log output"

    def stop(self, timeout: float = 60.0, echo=None) -> bool:
        """Stop the server cleanly (SIGTERM, then SIGKILL after ``timeout``).

        Only this home's own JVM is signalled: a pid file naming another process is
        stale; it is removed, ``echo`` is told in one line, and nothing is signalled.
        Returns whether a server was running.
        """
        pid = self._read_pid()
        if pid is None or not _pid_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        with _pidfd(pid) as fd:  # pinned first, then checked: the check cannot go stale
            if not self.is_own_server(pid):
                self.pid_file.unlink(missing_ok=True)
                if echo is not None:
                    echo(self._stale_note(pid) + "; removed it")
                return False
            _send(pid, fd, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not _exited(pid, fd):
                time.sleep(0.2)
            if not _exited(pid, fd):
                _send(pid, fd, signal.SIGKILL)
                time.sleep(0.5)
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True

    def guide_url(self) -> str:
        return browser.guide_url(self.credentials()["http_port"])

    def browser_url(self) -> str:
        creds = self.credentials()
        return (f"http://127.0.0.1:{creds['http_port']}/browser/"
                f"?dbms=neo4j://neo4j@127.0.0.1:{creds['bolt_port']}")
