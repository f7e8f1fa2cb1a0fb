"""Fetch the services' jars and zips from Maven Central with the machine's ``mvn``, cached outside the repo.

``mvn`` keeps its own cache in ``~/.m2``; on top of that the resolved Kafka classpath is copied once into
``<cache_dir>/kafka-<version>/libs`` so that a warm start runs no Maven at all.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra.errors import InfraError
from infra.versions import ELASTICSEARCH_ARTIFACT, KAFKA_EXTRA_ARTIFACTS, KAFKA_SCALA_ARTIFACT

_POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ims-monitor.infra</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


def _dependency_xml(coordinates: str) -> str:
    group, artifact, version = coordinates.split(":")
    return (
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version></dependency>"
    )


def _run_mvn(args: list[str], *, cwd: Path, what: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(f"cannot fetch {what}: `mvn` is not on PATH (install Maven, e.g. apt-get install maven)")
    proc = subprocess.run([mvn, "-B", "-q", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise InfraError(f"Maven could not fetch {what} (exit {proc.returncode}):\n{tail}")


def kafka_classpath(version: str, cache_dir: Path) -> Path:
    """The folder of jars that runs Kafka ``version`` (fetched on first use)."""
    target = cache_dir / f"kafka-{version}"
    libs = target / "libs"
    done = target / ".complete"
    if done.exists():
        return libs
    target.mkdir(parents=True, exist_ok=True)
    deps = [f"{KAFKA_SCALA_ARTIFACT}:{version}", *KAFKA_EXTRA_ARTIFACTS]
    (target / "pom.xml").write_text(_POM_TEMPLATE.format(dependencies="\n".join(map(_dependency_xml, deps))))
    if libs.exists():
        shutil.rmtree(libs)
    _run_mvn(
        ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
        cwd=target, what=f"Kafka {version}",
    )
    done.write_text(version)
    return libs


def elasticsearch_zip(version: str, cache_dir: Path) -> Path:
    """The Elasticsearch distribution zip for ``version`` (fetched on first use)."""
    target = cache_dir / f"elasticsearch-{version}"
    zip_path = target / f"elasticsearch-{version}.zip"
    if zip_path.exists():
        return zip_path
    target.mkdir(parents=True, exist_ok=True)
    _run_mvn(
        ["dependency:copy", f"-Dartifact={ELASTICSEARCH_ARTIFACT}:{version}:zip",
         f"-DoutputDirectory={target}", "-Dmdep.stripVersion=false"],
        cwd=target, what=f"Elasticsearch {version} ({ELASTICSEARCH_ARTIFACT}:{version}:zip)",
    )
    if not zip_path.exists():
        found = sorted(target.glob("*.zip"))
        if not found:
            raise InfraError(f"Maven reported success but no zip is in {target}")
        found[0].rename(zip_path)
    return zip_path
