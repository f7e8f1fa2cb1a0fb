"""The two local services, Kafka and Elasticsearch, behind one small interface.

Each service: ``prepare()`` fetches and lays out what it needs (idempotent), ``start()`` starts it and waits
until it is healthy, ``stop()`` stops only the process this project started (by its recorded PID) and keeps
the data, ``health()`` reports what a person would want to know.

Example::

    from pipeline.settings import load_settings
    from infra.services import LocalKafka

    kafka = LocalKafka(load_settings().infra)
    kafka.start()            # fetches Kafka on first use, formats the KRaft log dir, waits for the broker
    print(kafka.health())    # {'service': 'kafka', 'running': True, 'healthy': True, ...}
    kafka.stop()
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
import uuid
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import urllib3

from infra import maven
from infra.errors import InfraError, ServiceStartTimeout
from infra.processes import is_alive, read_pid, start_detached, stop_pid
from pipeline.settings import InfraSettings, elasticsearch_credentials_file

CONFIG_DIR = Path(__file__).parent / "config"


def _java_home(settings: InfraSettings) -> Path:
    if settings.java_home is not None:
        return settings.java_home
    java = shutil.which("java")
    if java is None:
        raise InfraError("no `java` on PATH; install a JDK 17+ or set IMS_INFRA__JAVA_HOME")
    return Path(os.path.realpath(java)).parent.parent


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class LocalService(ABC):
    name: str

    def __init__(self, settings: InfraSettings) -> None:
        self.settings = settings

    @property
    def root(self) -> Path:
        return self.settings.home / self.name

    @property
    def pid_file(self) -> Path:
        return self.root / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / f"{self.name}.out"

    @property
    @abstractmethod
    def marker(self) -> str:
        """A string found in our process's command line and in no one else's."""

    @abstractmethod
    def prepare(self) -> None: ...

    @abstractmethod
    def _launch(self) -> None: ...

    @abstractmethod
    def _probe(self) -> dict[str, Any]:
        """Ask the running service about itself; raise if it does not answer."""

    @property
    @abstractmethod
    def port(self) -> int: ...

    def pid(self) -> int | None:
        return read_pid(self.pid_file, marker=self.marker)

    def start(self) -> bool:
        """Start the service unless it already runs. True if this call started it."""
        if self.pid() is not None:
            return False
        if _port_open(self.port):
            raise InfraError(
                f"port {self.port} is already taken by a process this project did not start; "
                f"stop it or choose another port (IMS_INFRA__...PORT)"
            )
        self.prepare()
        self._launch()
        self.wait_healthy()
        return True

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if not self._process_alive():
                raise InfraError(f"{self.name} exited while starting; see {self.log_file}")
            if self.health().get("healthy"):
                return
            time.sleep(1.0)
        raise ServiceStartTimeout(self.name, self.settings.start_timeout_s, self.log_file)

    def _process_alive(self) -> bool:
        try:
            return is_alive(int(self.pid_file.read_text().strip()))
        except (FileNotFoundError, ValueError):
            return False

    def stop(self) -> bool:
        """Stop the process we started (data stays). True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, timeout_s=60)
        self.pid_file.unlink(missing_ok=True)
        return True

    def health(self) -> dict[str, Any]:
        pid = self.pid()
        report: dict[str, Any] = {"service": self.name, "pid": pid, "running": pid is not None,
                                  "port": self.port, "healthy": False}
        if pid is None:
            return report
        try:
            report.update(self._probe())
        except Exception as exc:  # noqa: BLE001 - a status report shows any failure as text
            report["error"] = f"{type(exc).__name__}: {exc}"
        return report


class LocalKafka(LocalService):
    """A single Kafka node in KRaft mode (broker and controller in one JVM), plaintext on loopback."""

    name = "kafka"

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    @property
    def marker(self) -> str:
        return f"-Dims.monitor.service=kafka:{self.root}"

    @property
    def _config_file(self) -> Path:
        return self.root / "server.properties"

    def prepare(self) -> None:
        libs = maven.kafka_classpath(self.settings.kafka_version, self.settings.cache_dir)
        data_dir = self.root / "data"
        self.root.mkdir(parents=True, exist_ok=True)
        s = self.settings
        self._config_file.write_text(
            "\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data_dir}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                # Room for the 1 MB-and-more records the dead-letter tests send.
                "message.max.bytes=4194304",
                "replica.fetch.max.bytes=4194304",
                "",
            ])
        )
        if not (data_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            proc = subprocess.run(
                [str(self._java()), "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
                 "-t", cluster_id, "-c", str(self._config_file)],
                capture_output=True, text=True,
            )
            if proc.returncode != 0:
                raise InfraError(f"formatting the Kafka log dir failed:\n{proc.stdout}{proc.stderr}")

    def _java(self) -> Path:
        return _java_home(self.settings) / "bin" / "java"

    def _launch(self) -> None:
        libs = maven.kafka_classpath(self.settings.kafka_version, self.settings.cache_dir)
        argv = [
            str(self._java()), f"-Xms{self.settings.kafka_heap}", f"-Xmx{self.settings.kafka_heap}",
            self.marker, f"-Dlog4j2.configurationFile={CONFIG_DIR / 'kafka-log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.root / 'logs'}",
            "-cp", f"{libs}/*", "kafka.Kafka", str(self._config_file),
        ]
        start_detached(argv, pid_file=self.pid_file, log_file=self.log_file, env=os.environ, cwd=self.root)

    def _probe(self) -> dict[str, Any]:
        from kafka import KafkaAdminClient

        if not _port_open(self.port):
            return {"healthy": False, "error": f"nothing listens on 127.0.0.1:{self.port} yet"}
        admin = KafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{self.port}", request_timeout_ms=5000, client_id="ims-infra-status"
        )
        try:
            cluster = admin.describe_cluster()
            topics = admin.list_topics()
        finally:
            admin.close()
        return {"healthy": True, "version": self.settings.kafka_version,
                "cluster_id": cluster.get("cluster_id"), "topics": len(topics)}


class LocalElasticsearch(LocalService):
    """A single Elasticsearch node with security on (basic auth), HTTP on 127.0.0.1 only."""

    name = "elasticsearch"

    @property
    def port(self) -> int:
        return self.settings.elasticsearch_http_port

    @property
    def home_dir(self) -> Path:
        return self.root / "dist" / f"elasticsearch-{self.settings.elasticsearch_version}"

    @property
    def marker(self) -> str:
        return f"-Des.path.home={self.home_dir}"

    @property
    def pid_file(self) -> Path:
        # Written by the node itself, so in a folder its service user owns.
        return self.root / "run" / "elasticsearch.pid"

    @property
    def credentials_file(self) -> Path:
        return elasticsearch_credentials_file(self.settings)

    def _service_user(self) -> pwd.struct_passwd | None:
        """As root the node must run as another user (Elasticsearch refuses root); create it if missing."""
        if os.geteuid() != 0:
            return None
        user = self.settings.elasticsearch_service_user
        try:
            return pwd.getpwnam(user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True
            )
            return pwd.getpwnam(user)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ES_JAVA_HOME"] = str(_java_home(self.settings))
        env["ES_PATH_CONF"] = str(self.root / "config")
        env["ES_JAVA_OPTS"] = f"-Xms{self.settings.elasticsearch_heap} -Xmx{self.settings.elasticsearch_heap}"
        env.pop("JAVA_HOME", None)
        return env

    def _as_service_user(self, argv: list[str]) -> list[str]:
        user = self._service_user()
        if user is None:
            return argv
        return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *argv]

    def prepare(self) -> None:
        s = self.settings
        if not (self.home_dir / "bin" / "elasticsearch").exists():
            zip_path = maven.elasticsearch_zip(s.elasticsearch_version, s.cache_dir)
            dist = self.root / "dist"
            dist.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(dist)
            for path in (self.home_dir / "bin").iterdir():
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            for path in self.home_dir.rglob("bin/*"):
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        config = self.root / "config"
        if not config.exists():
            shutil.copytree(self.home_dir / "config", config)
        for sub in ("data", "logs", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (config / "elasticsearch.yml").write_text(
            "\n".join([
                "cluster.name: ims-monitor",
                "node.name: ims-monitor-1",
                f"path.data: {self.root / 'data'}",
                f"path.logs: {self.root / 'logs'}",
                "network.host: 127.0.0.1",
                f"http.port: {s.elasticsearch_http_port}",
                f"transport.port: {s.elasticsearch_transport_port}",
                "discovery.type: single-node",
                "xpack.security.enabled: true",
                # Loopback only, so plain HTTP with basic auth; put TLS in front for anything else.
                "xpack.security.http.ssl.enabled: false",
                "xpack.security.transport.ssl.enabled: false",
                # Shared developer disks fill up; a read-only index would look like a pipeline bug.
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "action.destructive_requires_name: true",
                "",
            ])
        )
        if not (config / "elasticsearch.keystore").exists() or not self.credentials_file.exists():
            self._create_credentials(config)
        user = self._service_user()
        if user is not None:
            self.settings.home.chmod(0o755)
            self.root.chmod(0o755)
            for sub in ("dist", "config", "data", "logs", "run"):
                subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(self.root / sub)], check=True)

    def _create_credentials(self, config: Path) -> None:
        password = secrets.token_urlsafe(24)
        keystore = str(self.home_dir / "bin" / "elasticsearch-keystore")
        (config / "elasticsearch.keystore").unlink(missing_ok=True)
        for argv, stdin in (([keystore, "create"], None), ([keystore, "add", "-x", "bootstrap.password"], password)):
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=self._env())
            if proc.returncode != 0:
                raise InfraError(f"elasticsearch-keystore failed: {proc.stdout}{proc.stderr}")
        self.credentials_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"username": "elastic", "password": password}, out)

    def _launch(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        argv = self._as_service_user(
            [str(self.home_dir / "bin" / "elasticsearch"), "-d", "-p", str(self.pid_file)]
        )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=self._env(), cwd=self.root, timeout=self.settings.start_timeout_s)
        if proc.returncode != 0:
            raise InfraError(f"Elasticsearch failed to start (exit {proc.returncode}); see {self.log_file} "
                             f"and {self.root / 'logs'}")

    def _probe(self) -> dict[str, Any]:
        creds = json.loads(self.credentials_file.read_text())
        http = urllib3.PoolManager(timeout=urllib3.Timeout(total=5.0), retries=False)
        headers = urllib3.make_headers(basic_auth=f"{creds['username']}:{creds['password']}")
        resp = http.request("GET", f"http://127.0.0.1:{self.port}/_cluster/health", headers=headers)
        if resp.status != 200:
            raise InfraError(f"_cluster/health answered HTTP {resp.status}")
        body = resp.json()
        return {"healthy": body["status"] in ("green", "yellow"), "status": body["status"],
                "version": self.settings.elasticsearch_version, "url": f"http://127.0.0.1:{self.port}",
                "credentials_file": str(self.credentials_file)}


def local_services(settings: InfraSettings) -> list[LocalService]:
    return [LocalKafka(settings), LocalElasticsearch(settings)]
