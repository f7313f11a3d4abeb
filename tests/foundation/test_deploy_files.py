"""The Docker stack and the Procfile describe the same processes the README documents."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_compose_defines_the_production_stack():
    everything = _compose()["services"]
    # `docker compose up` starts the services without a profile; the rest are opt-in.
    services = {name: spec for name, spec in everything.items() if not spec.get("profiles")}
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    assert {name for name, spec in everything.items() if spec.get("profiles") == ["observability"]} == {
        "prometheus",
        "grafana",
    }
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"]
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
        assert (ROOT / services[name]["build"]["context"].replace("..", ".")).exists()
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "functions_platform", "worker"]
    assert "beat" in services["beat"]["command"]


def test_dockerfile_installs_python_and_node():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert "python:3.11" in text and "node:20" in text and "npm ci" in text


def test_procfile_runs_web_worker_and_beat():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert set(lines) == {"web", "worker", "beat"}


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) where it works, else Debian's `docker-compose`."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_validates():
    command = _compose_command()
    if command is None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("REQUIRE_SERVICES=1 but neither `docker compose` nor `docker-compose` is installed")
        pytest.skip("docker compose is not installed")
    env = {"SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "y", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.run(
        [*command, "-f", "docker/compose.yaml", "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
