"""Static checks of the deployment files against the code they deploy.

No Docker engine or Kubernetes cluster exists where the suite runs, so docker-compose.yml, the
Dockerfile and every manifest under deploy/k8s are parsed and compared with the code itself:

- every service under ``services/`` runs (compose and k8s) as ``python -m <its package>``, and
  every module any container runs can be imported as a program (``importlib.util.find_spec``);
- every environment variable a container gets is a field of the settings class of the module it
  runs, every required field is set, and the values validate (the class is instantiated);
- ports agree with ``HTTP_PORT``; probes and healthchecks hit ``/healthz`` and ``/readyz``, which
  the FastStream services really serve;
- KEDA scales each consumer on its own consumer group (= service name, = the group its
  subscribers use) and on a topic that exists and it consumes, never above that topic's
  partition count;
- every topic name anywhere in the files is one of ``all_topic_specs()``.

The ``integration`` tests at the end run ``calsync_platform.topics_admin`` against the real local
Kafka-protocol broker (the root conftest's ``local_kafka``).
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from calsync_contracts.topics import TopicSpec, all_topic_specs
from calsync_platform.settings import ServiceSettings
from calsync_platform.topics_admin import (
    TopicsAdminError,
    TopicsAdminSettings,
    ensure_topics,
    partition_counts,
)

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
K8S_DIR = REPO / "deploy" / "k8s"
DEPLOY_README = REPO / "deploy" / "README.md"
K8S_IMAGE = "calsync"
TOPICS_ADMIN_MODULE = "calsync_platform.topics_admin"
GOOGLE_STAND_IN_MODULE = "calsync_localinfra.google"
MICROSOFT_STAND_IN_MODULE = "calsync_localinfra.microsoft"
MICROSOFT_CERT_MODULE = "calsync_localinfra.microsoft.make_cert"
EWS_STAND_IN_MODULE = "calsync_localinfra.ews"
LOCAL_STAND_INS = frozenset(
    {GOOGLE_STAND_IN_MODULE, MICROSOFT_STAND_IN_MODULE, MICROSOFT_CERT_MODULE, EWS_STAND_IN_MODULE}
)
"""Dev-only stand-ins for outside systems and their one-shot helpers (docker compose only, never
deploy/k8s): configured by command-line arguments, not by a settings class."""
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+\.v\d+(\.dlq)?$")

PARTITIONS = {spec.name: spec.partitions for spec in all_topic_specs()}


# --- the services, from the repository ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    """Directory and project name, e.g. ``sync-google``: also its consumer group id."""
    package: str
    """Its import package, e.g. ``sync_google``: ``python -m <package>`` runs it."""


@cache
def services() -> tuple[Service, ...]:
    found = []
    for pyproject in sorted((REPO / "services").glob("*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        packages = [p.parent.name for p in (pyproject.parent / "src").glob("*/__init__.py")]
        assert len(packages) == 1, f"{pyproject.parent}: expected one package in src/, {packages}"
        found.append(Service(name, packages[0]))
    return tuple(found)


def service_of_module(module: str) -> Service | None:
    top = module.split(".")[0]
    return next((s for s in services() if s.package == top), None)


def is_service_main(module: str) -> bool:
    """``python -m <service package>``: a long-running HTTP service (not a one-shot)."""
    return any(s.package == module for s in services())


def runnable(module: str) -> bool:
    """Whether ``python -m module`` can start: the module exists, and a package has __main__."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:
        return runnable(f"{module}.__main__")
    return True


def settings_class(module: str) -> type[BaseSettings]:
    """The settings class a module reads: ``TopicsAdminSettings`` for the topic creator; for a
    service, the one ``BaseSettings`` subclass its ``<package>.settings`` module defines (crm-api),
    else the shared ``ServiceSettings``."""
    if module == TOPICS_ADMIN_MODULE:
        return TopicsAdminSettings
    service = service_of_module(module)
    assert service is not None, f"{module} belongs to no service under services/"
    settings_module = f"{service.package}.settings"
    if not runnable(settings_module):
        main = importlib.util.find_spec(f"{service.package}.__main__")
        assert main is not None, f"no {settings_module} and no {service.package}.__main__"
        assert main.origin is not None
        assert "ServiceSettings" in Path(main.origin).read_text(), (
            f"cannot tell the settings class of {service.name}: no {settings_module} module, "
            f"and {service.package}.__main__ does not use ServiceSettings"
        )
        return ServiceSettings
    loaded = importlib.import_module(settings_module)
    classes = [
        value
        for value in vars(loaded).values()
        if inspect.isclass(value)
        and issubclass(value, BaseSettings)
        and value.__module__ == settings_module
    ]
    if len(classes) > 1:
        classes = [c for c in classes if c.__name__ == "Settings"] or classes
    assert len(classes) == 1, f"{settings_module}: cannot tell its settings class from {classes}"
    return classes[0]


def env_fields(cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable name (upper case) -> field name, as pydantic-settings reads them."""
    config = cls.model_config
    prefix = config.get("env_prefix", "") or ""
    names: dict[str, str] = {}
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            env_names = [alias]
        elif isinstance(alias, AliasChoices):
            env_names = [choice for choice in alias.choices if isinstance(choice, str)]
        elif field.alias:
            env_names = [field.alias]
        else:
            env_names = [f"{prefix}{field_name}"]
        for env_name in env_names:
            names[env_name.upper()] = field_name
    return names


def http_port(cls: type[BaseSettings], env: Mapping[str, str]) -> int:
    if "HTTP_PORT" in env:
        return int(env["HTTP_PORT"])
    field = cls.model_fields[env_fields(cls)["HTTP_PORT"]]
    return int(field.default)


def instantiate(cls: type[BaseSettings], env: Mapping[str, str], monkeypatch: Any) -> BaseSettings:
    """The settings the process would read with exactly ``env`` (nothing of ours leaks in)."""
    for name in env_fields(cls):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cls(_env_file=None)  # type: ignore[call-arg]


def as_env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def resolve_interpolation(value: str) -> str:
    """Compose's ``${VAR:-default}`` with VAR unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", value)


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key twice in one mapping. PyYAML keeps the last one
    silently; docker compose and kubectl reject the file, so a check must not pass it."""


def _no_duplicate_keys(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden
            continue
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass: safe


def load_yaml_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=StrictLoader))  # a SafeLoader subclass: safe


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from walk_strings(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


# --- docker-compose.yml ------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE_FILE.read_text())
    return document


def compose_services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def compose_app_services() -> dict[str, dict[str, Any]]:
    """The services running our image (built from the Dockerfile)."""
    return {name: svc for name, svc in compose_services().items() if "build" in svc}


def compose_env(svc: Mapping[str, Any]) -> dict[str, str]:
    assert "env_file" not in svc, "env_file is not checked here: set variables in `environment`"
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {key: value for key, value in pairs}
    return {key: as_env_value(value) for key, value in raw.items()}


def command_argv(command: Any) -> list[str]:
    argv = [str(arg) for arg in (command.split() if isinstance(command, str) else command)]
    assert argv[:2] == ["python", "-m"], f"not `python -m <module>`: {argv}"
    assert len(argv) >= 3, f"not `python -m <module>`: {argv}"
    return argv


def command_module(command: Any) -> str:
    """The module of ``python -m <module>``; only a local stand-in takes arguments too."""
    argv = command_argv(command)
    if argv[2] not in LOCAL_STAND_INS:
        assert len(argv) == 3, f"not `python -m <module>`: {argv}"
    return argv[2]


def compose_module(svc: Mapping[str, Any]) -> str:
    return command_module(svc.get("command"))


def compose_service_running(module: str) -> tuple[str, dict[str, Any]]:
    matches = [(n, s) for n, s in compose_app_services().items() if compose_module(s) == module]
    assert len(matches) == 1, f"expected one compose service running {module}, got {matches}"
    return matches[0]


# --- deploy/k8s ----------------------------------------------------------------------------------


@cache
def k8s_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file name, document) for every YAML document under deploy/k8s except kustomization."""
    docs = []
    for path in sorted([*K8S_DIR.glob("*.yaml"), *K8S_DIR.glob("*.yml")]):
        if path.name.startswith("kustomization."):
            continue
        for document in load_yaml_all(path.read_text()):
            if document:
                docs.append((path.name, document))
    return tuple(docs)


def k8s_kind(kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for _, doc in k8s_documents():
        if doc["kind"] == kind:
            name = doc["metadata"]["name"]
            assert name not in found, f"two {kind}s named {name}"
            found[name] = doc
    return found


def kustomization() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml((K8S_DIR / "kustomization.yaml").read_text())
    return document


@dataclass(frozen=True, slots=True)
class Workload:
    kind: str
    name: str
    pod: dict[str, Any]
    """The pod template's spec."""
    pod_labels: dict[str, str]

    @property
    def containers(self) -> list[dict[str, Any]]:
        return [*self.pod.get("initContainers", []), *self.pod["containers"]]

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


def workloads() -> list[Workload]:
    result = []
    for kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        for name, doc in k8s_kind(kind).items():
            template = doc["spec"]["template"]
            result.append(Workload(kind, name, template["spec"], template["metadata"]["labels"]))
    return result


@dataclass(frozen=True, slots=True)
class ContainerEnv:
    values: dict[str, str]
    """Literal values (``value`` or a ConfigMap from these manifests)."""
    secrets: dict[str, tuple[str, str]]
    """Variable -> (Secret name, key)."""

    @property
    def names(self) -> set[str]:
        return set(self.values) | set(self.secrets)


def container_env(container: Mapping[str, Any]) -> ContainerEnv:
    configmaps = {name: doc.get("data", {}) for name, doc in k8s_kind("ConfigMap").items()}
    values: dict[str, str] = {}
    secrets: dict[str, tuple[str, str]] = {}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, (
            "envFrom secretRef hides which variables a Secret sets; use secretKeyRef per variable"
        )
        ref = source["configMapRef"]["name"]
        assert ref in configmaps, f"ConfigMap {ref} is not in deploy/k8s"
        for key, value in configmaps[ref].items():
            values[source.get("prefix", "") + key] = as_env_value(value)
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            values[name] = as_env_value(item["value"])
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            secrets[name] = (ref["name"], ref["key"])
        elif "configMapKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["configMapKeyRef"]
            assert ref["key"] in configmaps.get(ref["name"], {}), f"{name}: no such ConfigMap key"
            values[name] = as_env_value(configmaps[ref["name"]][ref["key"]])
        else:
            pytest.fail(f"{name}: unsupported valueFrom {item['valueFrom']}")
    return ContainerEnv(values, secrets)


def container_module(container: Mapping[str, Any]) -> str:
    return command_module([*container.get("command", []), *container.get("args", [])])


def app_containers() -> list[tuple[str, Workload, dict[str, Any]]]:
    return [
        (f"{w.id}:{c['name']}", w, c)
        for w in workloads()
        for c in w.containers
        if c["image"].split(":")[0] == K8S_IMAGE
    ]


def resolve_port(container: Mapping[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert named, f"no container port named {port!r}"
    return int(named[0])


def parse_quantity(value: str | int | float) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def scaled_objects() -> dict[str, dict[str, Any]]:
    return k8s_kind("ScaledObject")


def autoscaler_targets() -> dict[str, list[str]]:
    """Deployment name -> the autoscalers targeting it."""
    targets: dict[str, list[str]] = {}
    for name, hpa in k8s_kind("HorizontalPodAutoscaler").items():
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment"
        targets.setdefault(ref["name"], []).append(f"HorizontalPodAutoscaler/{name}")
    for name, so in scaled_objects().items():
        ref = so["spec"]["scaleTargetRef"]
        assert ref.get("kind", "Deployment") == "Deployment"
        targets.setdefault(ref["name"], []).append(f"ScaledObject/{name}")
    return targets


# --- FastStream services, introspected without a broker ----------------------------------------


@cache
def faststream_app(package: str) -> Any | None:
    """``<package>.app.create_app(settings)`` when the service is a FastStream app (creating it
    connects to nothing). A service with a settings class of its own gets the settings compose
    gives it (its dev values); the others the shared ``ServiceSettings``."""
    if not runnable(f"{package}.app"):
        return None
    cls = settings_class(package)
    if cls is ServiceSettings:
        settings: BaseSettings = ServiceSettings()
    else:
        _, svc = compose_service_running(package)
        with pytest.MonkeyPatch.context() as monkeypatch:
            settings = instantiate(cls, compose_env(svc), monkeypatch)
    app = importlib.import_module(f"{package}.app").create_app(settings)
    return app if hasattr(app, "broker") and hasattr(app, "routes") else None


def subscribed(package: str) -> list[tuple[str | None, list[str]]]:
    app = faststream_app(package)
    if app is None:
        return []
    return [(sub.group_id, list(sub.topic_names)) for sub in app.broker.subscribers]


SERVICE_IDS = [s.name for s in services()]


# === tests: services and commands ================================================================


def test_services_are_discovered():
    names = [s.name for s in services()]
    assert names, "no service found under services/"
    assert len({s.package for s in services()}) == len(names)
    assert "crm-api" in names


@pytest.mark.parametrize("service", services(), ids=SERVICE_IDS)
def test_compose_runs_the_service(service: Service):
    svc = compose_services().get(service.name)
    assert svc is not None, f"docker-compose.yml has no service {service.name}"
    assert "build" in svc, f"{service.name} must run the repository's image"
    assert compose_module(svc) == service.package
    assert runnable(service.package), f"`python -m {service.package}` cannot start: no __main__"


@pytest.mark.parametrize("service", services(), ids=SERVICE_IDS)
def test_k8s_deployment_runs_the_service(service: Service):
    deployment = k8s_kind("Deployment").get(service.name)
    assert deployment is not None, f"deploy/k8s has no Deployment {service.name}"
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    assert containers[0]["image"].split(":")[0] == K8S_IMAGE
    assert container_module(containers[0]) == service.package
    assert runnable(service.package), f"`python -m {service.package}` cannot start: no __main__"


def test_compose_app_services_share_one_image():
    apps = compose_app_services()
    builds = {
        (svc["build"]["context"], svc["build"].get("dockerfile", "Dockerfile"))
        for svc in apps.values()
    }
    assert builds == {(".", "Dockerfile")}
    assert len({svc.get("image") for svc in apps.values()}) == 1


@pytest.mark.parametrize("name", sorted(compose_app_services()))
def test_compose_command_module_is_runnable(name: str):
    module = compose_module(compose_app_services()[name])
    assert runnable(module), f"compose service {name}: `python -m {module}` cannot start"


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w.id)
def test_k8s_command_module_is_runnable(workload: Workload):
    for container in workload.containers:
        assert container["image"].split(":")[0] == K8S_IMAGE, "every workload runs our image"
        module = container_module(container)
        assert runnable(module), f"{workload.id}: `python -m {module}` cannot start"
        assert module not in LOCAL_STAND_INS, f"{workload.id}: {module} is for local use only"


def test_one_shot_jobs_exist_in_both():
    compose_modules = {compose_module(s) for s in compose_app_services().values()}
    job_modules = {
        container_module(c)
        for j in k8s_kind("Job").values()
        for c in j["spec"]["template"]["spec"]["containers"]
    }
    for module in ("crm_api.migrate", TOPICS_ADMIN_MODULE):
        assert module in compose_modules, f"docker-compose.yml does not run {module}"
        assert module in job_modules, f"deploy/k8s has no Job running {module}"


# === tests: environment against settings =========================================================


def check_env(where: str, module: str, env: Mapping[str, str], monkeypatch: Any) -> None:
    cls = settings_class(module)
    known = env_fields(cls)
    unknown = sorted(name for name in env if name.upper() not in known)
    assert not unknown, f"{where}: {unknown} are not fields of {cls.__module__}.{cls.__qualname__}"
    set_fields = {known[name.upper()] for name in env}
    missing = sorted(
        name
        for name, field_name in known.items()
        if cls.model_fields[field_name].is_required() and field_name not in set_fields
    )
    assert not missing, f"{where}: required settings {missing} are not set"
    instantiate(cls, env, monkeypatch)  # the values themselves validate


@pytest.mark.parametrize(
    "name",
    sorted(
        n for n, s in compose_app_services().items() if compose_module(s) not in LOCAL_STAND_INS
    ),
)
def test_compose_env_matches_settings(name: str, monkeypatch: pytest.MonkeyPatch):
    svc = compose_app_services()[name]
    check_env(f"compose {name}", compose_module(svc), compose_env(svc), monkeypatch)


@pytest.mark.parametrize("item", app_containers(), ids=lambda item: item[0])
def test_k8s_env_matches_settings(
    item: tuple[str, Workload, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
):
    where, _, container = item
    module = container_module(container)
    env = container_env(container)
    # Secret values are not in the repository: borrow compose's dev values to validate the rest.
    _, twin = compose_service_running(module)
    dev_values = compose_env(twin)
    missing_dev = sorted(set(env.secrets) - set(dev_values))
    assert not missing_dev, f"{where}: no dev value for secret-sourced {missing_dev} in compose"
    check_env(where, module, {**env.values, **{k: dev_values[k] for k in env.secrets}}, monkeypatch)


def test_k8s_secrets_are_referenced_not_committed():
    assert not k8s_kind("Secret"), "no Secret with values belongs in the repository"
    readme = DEPLOY_README.read_text()
    refs = {ref for _, _, c in app_containers() for ref in container_env(c).secrets.values()}
    assert refs, "crm-api reads its secrets from a Secret"
    for secret, key in sorted(refs):
        assert f"secret generic {secret}" in readme, f"deploy/README.md: how to create {secret}"
        assert f"--from-literal={key}=" in readme, f"deploy/README.md: how to set {secret}/{key}"


def test_compose_dev_secrets_are_marked_and_valid():
    from cryptography.fernet import Fernet

    text = COMPOSE_FILE.read_text()
    assert "DEV-ONLY" in text.upper()
    for name, svc in compose_services().items():
        env = compose_env(svc)
        assert env.get("ENVIRONMENT", "dev") != "prod", (
            f"{name}: dev-only secrets with ENVIRONMENT=prod"
        )
        secrets = ("JWT_SECRET", "POSTGRES_PASSWORD", "DATABASE_URL", "GOOGLE_CLIENT_SECRET")
        for key in (*secrets, "MICROSOFT_CLIENT_SECRET"):
            if key in env:
                assert "dev-only" in env[key], f"{name}: {key} is not visibly a dev-only value"
        if "SECRETS_KEY" in env:
            Fernet(env["SECRETS_KEY"].encode())  # a valid key, or crm-api could not start
            assert b"dev-only" in base64.urlsafe_b64decode(env["SECRETS_KEY"])


def stand_in_options(svc: Mapping[str, Any]) -> dict[str, str]:
    """``--option value`` pairs after ``python -m <module>`` (a stand-in's configuration)."""
    argv = command_argv(svc["command"])
    return dict(zip(argv[3::2], argv[4::2], strict=True))


def published_ports(svc: Mapping[str, Any]) -> dict[int, tuple[str | None, int]]:
    """Container port -> (host address or None for every address, host port)."""
    published: dict[int, tuple[str | None, int]] = {}
    for mapping in svc.get("ports", []):
        parts = resolve_interpolation(str(mapping)).split("/")[0].split(":")
        address = parts[-3] if len(parts) == 3 else None
        published[int(parts[-1])] = (address, int(parts[-2]))
    return published


def volume_mounts(svc: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    """Mount path -> (named volume or host path, read-only), from either syntax."""
    mounts: dict[str, tuple[str, bool]] = {}
    for volume in svc.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            read_only = bool(mode) and "ro" in mode[0].split(",")
        else:
            source, target = volume["source"], volume["target"]
            read_only = bool(volume.get("read_only", False))
        assert target not in mounts, f"two volumes on {target}"
        mounts[target] = (source, read_only)
    return mounts


def served_get_paths(app: Any) -> set[str]:
    return {r.path for r in app.routes if "GET" in getattr(r, "methods", set())}


def test_compose_google_stand_in_serves_sync_google():
    """sync-google's OAuth client is the one the stand-in knows, and its Google addresses reach
    the stand-in: the API and token endpoints by the compose network's name (the service calls
    them), the consent page on the published port (the user's browser opens it)."""
    from calsync_localinfra.google import LocalGoogle
    from calsync_localinfra.google.api import create_app
    from calsync_localinfra.google.store import GoogleState

    name, standin = compose_service_running(GOOGLE_STAND_IN_MODULE)
    assert not compose_env(standin), f"{name} is configured by its arguments"
    options = stand_in_options(standin)
    assert options["--host"] == "0.0.0.0", f"{name} must listen beyond its own loopback"
    port = int(options["--port"])
    google_name, google = compose_service_running("sync_google")
    env = compose_env(google)
    assert env["GOOGLE_CLIENT_ID"] == options["--client-id"]
    assert env["GOOGLE_CLIENT_SECRET"] == options["--client-secret"]
    inside = LocalGoogle(REPO, port=port)
    inside.host = name
    assert env["GOOGLE_API_ENDPOINT"] == inside.api_endpoint
    assert env["GOOGLE_TOKEN_URI"] == inside.token_uri
    published = {port_: host_port for port_, (_, host_port) in published_ports(standin).items()}
    auth = urlsplit(env["GOOGLE_AUTH_URI"])
    assert auth.hostname in ("localhost", "127.0.0.1"), "the browser opens it, on the host"
    assert auth.port == published.get(port), f"{name} must publish :{port} on {auth.port}"
    assert auth.path == urlsplit(inside.auth_uri).path
    assert name in google.get("depends_on", {}), f"{google_name} could start before {name}"
    # Its healthcheck asks for a page it serves (it has no /healthz).
    urls = HEALTH_URL.findall(" ".join(standin["healthcheck"]["test"]))
    assert [int(p) for p, _ in urls] == [port]
    app = create_app(GoogleState(options["--client-id"], options["--client-secret"]))
    assert urls[0][1] in served_get_paths(app)


def test_compose_microsoft_stand_in_serves_sync_exchange():
    """sync-exchange's app registration is the one the stand-in knows; its Microsoft addresses
    reach the stand-in by the compose network's name, over HTTPS with the certificate the
    one-shot made for that name, which both mount read-only and sync-exchange trusts.

    The authorize URL the browser opens is built from MICROSOFT_AUTHORITY, so it names the
    compose host too (docker-compose.yml, deploy/README.md): only its publishing is checked."""
    from calsync_localinfra.microsoft import LocalMicrosoft
    from calsync_localinfra.microsoft.api import create_app
    from calsync_localinfra.microsoft.store import MicrosoftState

    services_ = compose_services()
    name, standin = compose_service_running(MICROSOFT_STAND_IN_MODULE)
    assert not compose_env(standin), f"{name} is configured by its arguments"
    options = stand_in_options(standin)
    assert options["--host"] == "0.0.0.0", f"{name} must listen beyond its own loopback"
    port = int(options["--port"])
    exchange_name, exchange = compose_service_running("sync_exchange")
    env = compose_env(exchange)
    assert env["MICROSOFT_CLIENT_ID"] == options["--client-id"]
    assert env["MICROSOFT_CLIENT_SECRET"] == options["--client-secret"]
    inside = LocalMicrosoft(REPO, port=port)
    inside.host = name
    assert env["MICROSOFT_AUTHORITY"] == inside.authority
    assert env["MICROSOFT_GRAPH_ENDPOINT"] == inside.graph_endpoint
    assert urlsplit(env["MICROSOFT_AUTHORITY"]).scheme == "https", "MSAL talks only HTTPS"
    assert name in exchange.get("depends_on", {}), f"{exchange_name} could start before {name}"

    # The certificate: made by the one-shot into a named volume, for the stand-in's names.
    cert_name, maker = compose_service_running(MICROSOFT_CERT_MODULE)
    assert maker.get("restart") == "no", f"{cert_name} is a one-shot"
    cert_dir, *hosts = command_argv(maker["command"])[3:]
    assert name in hosts, f"the certificate must be valid for {name}, the address used"
    assert "localhost" in hosts, f"the certificate must be valid for {name}'s healthcheck"
    volume, read_only = volume_mounts(maker)[cert_dir]
    assert not read_only, f"{cert_name} writes into {cert_dir}"
    assert volume in (compose().get("volumes") or {}), f"{volume} is not a named volume"
    cert_file, key_file = f"{cert_dir}/cert.pem", f"{cert_dir}/key.pem"
    assert (options["--cert"], options["--key"]) == (cert_file, key_file)
    assert env["MICROSOFT_CA_FILE"] == cert_file, f"{exchange_name} trusts exactly that one"
    for user, svc in ((name, standin), (exchange_name, exchange)):
        assert volume_mounts(svc).get(cert_dir) == (volume, True), (
            f"{user} must mount {volume} read-only at {cert_dir}"
        )
        assert cert_name in svc.get("depends_on", {}), f"{user} could start before {cert_name}"

    # Published on the host's loopback only; its healthcheck asks for a page it serves, over
    # HTTPS, trusting that certificate.
    assert published_ports(standin).get(port, (None, 0))[0] == "127.0.0.1"
    test = " ".join(standin["healthcheck"]["test"])
    urls = HEALTH_URL.findall(test)
    assert [int(p) for p, _ in urls] == [port]
    assert f"https://localhost:{port}/" in test
    assert f"cafile='{cert_file}'" in test
    app = create_app(MicrosoftState(options["--client-id"], options["--client-secret"]))
    assert urls[0][1] in served_get_paths(app)
    # Nothing else uses the dev-only certificate.
    for other, svc in services_.items():
        if other not in (name, exchange_name, cert_name):
            assert volume not in {v for v, _ in volume_mounts(svc).values()}, other


def compose_ews_stand_in() -> tuple[str, dict[str, Any], str, str, str]:
    """(service name, service, its EWS address on the compose network, demo mailbox, password)."""
    from calsync_localinfra.ews import LocalExchangeServer

    name, standin = compose_service_running(EWS_STAND_IN_MODULE)
    argv = command_argv(standin["command"])
    accounts = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--account"]
    assert len(accounts) == 1, f"{name}: one demo mailbox, got {accounts}"
    mailbox, _, password = accounts[0].partition(":")
    inside = LocalExchangeServer(REPO, port=int(stand_in_options(standin)["--port"]))
    inside.host = name
    return name, standin, inside.ews_url, mailbox, password


def test_compose_ews_stand_in_serves_sync_exchange():
    """The Exchange Server stand-in listens on the compose network with one demo mailbox (a
    dev-only password), sync-exchange waits for it, and it is reached only inside the network."""
    from calsync_localinfra.ews.api import create_app
    from calsync_localinfra.ews.store import ExchangeState

    name, standin, ews_url, mailbox, password = compose_ews_stand_in()
    assert not compose_env(standin), f"{name} is configured by its arguments"
    options = stand_in_options(standin)
    assert options["--host"] == "0.0.0.0", f"{name} must listen beyond its own loopback"
    port = int(options["--port"])
    assert ews_url == f"http://{name}:{port}/EWS/Exchange.asmx"
    assert re.fullmatch(r"[^@\s:]+@[^@\s:]+\.[a-z]+", mailbox), f"{name}: {mailbox!r}"
    assert "dev-only" in password, f"{name}: the demo password is not visibly a dev-only value"
    exchange_name, exchange = compose_service_running("sync_exchange")
    assert name in exchange.get("depends_on", {}), f"{exchange_name} could start before {name}"
    # Only sync-exchange calls it: published, it would be on the host's loopback at most.
    for address, _ in published_ports(standin).values():
        assert address == "127.0.0.1", f"{name} must not be published on every address"
    # Its healthcheck asks for a page it serves (it has no /healthz).
    urls = HEALTH_URL.findall(" ".join(standin["healthcheck"]["test"]))
    assert [int(p) for p, _ in urls] == [port]
    assert urls[0][1] in served_get_paths(create_app(ExchangeState()))


def compose_settings(module: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    _, svc = compose_service_running(module)
    return instantiate(settings_class(module), compose_env(svc), monkeypatch)


async def test_compose_ssrf_allow_admits_the_demo_exchange_server(
    monkeypatch: pytest.MonkeyPatch,
):
    """The demo EWS address can be connected from the page: crm-api takes it although plain
    http (its host is on SSRF_ALLOW, ADR 13), and sync-exchange's SSRF guard takes it although
    the compose network's addresses are private. Both read SSRF_ALLOW as the same list."""
    from crm_api.domain.accounts import check_ews_url
    from crm_api.errors import Invalid
    from sync_runtime.ssrf import check_url

    _, _, ews_url, _, _ = compose_ews_stand_in()
    crm_api = compose_settings("crm_api", monkeypatch)
    exchange = compose_settings("sync_exchange", monkeypatch)
    assert isinstance(crm_api.ssrf_allow, list)
    assert crm_api.ssrf_allow == exchange.ssrf_allow, "crm-api and sync-exchange must agree"
    check_ews_url(ews_url, crm_api.ssrf_allow)
    await check_url(ews_url, exchange.ssrf_allow)  # allowed by name: no lookup
    # Off the list crm-api refuses it (plain http): the entry is what admits it.
    with pytest.raises(Invalid):
        check_ews_url(ews_url, [])


def test_compose_ssrf_allow_lists_only_local_servers(monkeypatch: pytest.MonkeyPatch):
    """Every SSRF_ALLOW entry in compose is a service of this file with its port (no other port
    of it, and nothing outside the compose network, is admitted)."""
    listed = {}
    for name, svc in compose_app_services().items():
        if "SSRF_ALLOW" in compose_env(svc):
            settings = instantiate(
                settings_class(compose_module(svc)), compose_env(svc), monkeypatch
            )
            listed[name] = settings.ssrf_allow
    crm_api, _ = compose_service_running("crm_api")
    exchange, _ = compose_service_running("sync_exchange")
    assert {crm_api, exchange} <= set(listed), "crm-api and sync-exchange need SSRF_ALLOW"
    for name, entries in listed.items():
        for entry in entries:
            host, _, port = entry.rpartition(":")
            assert host in compose_services(), f"{name}: {entry!r} is no service of compose"
            assert port.isdigit(), f"{name}: {entry!r} must name the port"


def test_k8s_ssrf_allow_comes_from_one_configmap_key():
    """crm-api and the sync services that connect to user-given addresses read SSRF_ALLOW from
    the same ConfigMap key, so they never disagree about an Exchange Server's address; the
    documentation says who needs it."""
    refs = {}
    for name in ("crm-api", "sync-caldav", "sync-exchange"):
        container = k8s_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        items = [i for i in container.get("env", []) if i["name"] == "SSRF_ALLOW"]
        assert len(items) == 1, f"{name}: SSRF_ALLOW once, from the ConfigMap"
        ref = items[0].get("valueFrom", {}).get("configMapKeyRef")
        assert ref, f"{name}: SSRF_ALLOW must come from a ConfigMap key"
        refs[name] = (ref["name"], ref["key"])
        assert isinstance(load_yaml(container_env(container).values["SSRF_ALLOW"]), list)
    assert len(set(refs.values())) == 1, f"SSRF_ALLOW from different keys: {refs}"
    readme = DEPLOY_README.read_text()
    assert "SSRF_ALLOW" in readme
    configmap, _ = next(iter(refs.values()))
    assert configmap in readme, f"deploy/README.md: where SSRF_ALLOW is set ({configmap})"


# === tests: ports, healthchecks and probes =======================================================

HEALTH_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/-]*)")


@pytest.mark.parametrize(
    "name",
    sorted(n for n, s in compose_app_services().items() if is_service_main(compose_module(s))),
)
def test_compose_ports_and_healthcheck(name: str):
    svc = compose_app_services()[name]
    module = compose_module(svc)
    port = http_port(settings_class(module), compose_env(svc))
    test = svc.get("healthcheck", {}).get("test")
    assert test, f"{name} has no healthcheck"
    urls = HEALTH_URL.findall(" ".join(test) if isinstance(test, list) else test)
    assert urls == [(str(port), "/healthz")], (
        f"{name}: healthcheck must GET :{port}/healthz, has {urls}"
    )
    for mapping in svc.get("ports", []):
        container_port = resolve_interpolation(str(mapping)).split(":")[-1].split("/")[0]
        assert int(container_port) == port, f"{name}: publishes {mapping}, HTTP_PORT is {port}"


def test_compose_publishes_crm_api_on_8000():
    published = [
        resolve_interpolation(str(p)) for p in compose_services()["crm-api"].get("ports", [])
    ]
    assert any(p.split(":")[-2] == "8000" for p in published if ":" in p), published


@pytest.mark.parametrize("service", services(), ids=SERVICE_IDS)
def test_k8s_probes_and_ports(service: Service):
    container = k8s_kind("Deployment")[service.name]["spec"]["template"]["spec"]["containers"][0]
    env = container_env(container)
    port = http_port(settings_class(service.package), env.values)
    assert port in [p["containerPort"] for p in container.get("ports", [])]
    expected = {
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        if probe not in container and probe == "startupProbe":
            continue
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{service.name} {probe} must GET {path}"
        assert resolve_port(container, get["port"]) == port, f"{service.name} {probe} port"


@pytest.mark.parametrize("service", services(), ids=SERVICE_IDS)
def test_k8s_service_routes_to_http_port(service: Service):
    deployment = k8s_kind("Deployment")[service.name]
    template = deployment["spec"]["template"]
    container = template["spec"]["containers"][0]
    port = http_port(settings_class(service.package), container_env(container).values)
    matching = [
        svc
        for svc in k8s_kind("Service").values()
        if svc["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    ]
    assert matching, f"no Service selects the pods of {service.name}"
    for svc in matching:
        for entry in svc["spec"]["ports"]:
            assert resolve_port(container, entry.get("targetPort", entry["port"])) == port
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()


def test_every_k8s_service_selects_a_deployment():
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in k8s_kind("Deployment").values()]
    for name, svc in k8s_kind("Service").items():
        selector = svc["spec"]["selector"]
        assert any(selector.items() <= pod.items() for pod in labels), (
            f"Service {name} selects nothing"
        )


@pytest.mark.parametrize("service", services(), ids=SERVICE_IDS)
def test_probe_paths_are_served(service: Service):
    app = faststream_app(service.package)
    if app is not None:
        paths = {path for path, _ in app.routes}
    else:  # crm-api: a FastAPI app
        from cryptography.fernet import Fernet

        from crm_api.bootstrap import create_app
        from crm_api.settings import Settings

        settings = Settings(
            database_url="postgresql+asyncpg://crm@localhost/crm",
            jwt_secret="x" * 32,
            secrets_key=Fernet.generate_key().decode(),
        )
        paths = set(create_app(settings).openapi()["paths"])  # built, never started
    assert {"/healthz", "/readyz"} <= paths


# === tests: resources and security ===============================================================


def dockerfile_user() -> int:
    users = re.findall(r"^USER\s+(\d+)", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert users, "the Dockerfile must switch to a numeric non-root USER"
    return int(users[-1])


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w.id)
def test_k8s_resources_and_security(workload: Workload):
    pod_security = workload.pod.get("securityContext", {})
    assert pod_security.get("runAsNonRoot") is True, f"{workload.id}: runAsNonRoot"
    assert pod_security.get("runAsUser", dockerfile_user()) == dockerfile_user() != 0
    assert workload.pod.get("automountServiceAccountToken") is False
    for container in workload.containers:
        resources = container.get("resources", {})
        for what in ("cpu", "memory"):
            request = resources.get("requests", {}).get(what)
            limit = resources.get("limits", {}).get(what)
            assert request, f"{workload.id}: no {what} request"
            assert limit, f"{workload.id}: no {what} limit"
            assert parse_quantity(request) <= parse_quantity(limit), f"{workload.id}: {what}"
        security = container.get("securityContext", {})
        assert security.get("allowPrivilegeEscalation") is False
        assert security.get("readOnlyRootFilesystem") is True
        assert "ALL" in security.get("capabilities", {}).get("drop", [])


def test_kustomization_lists_every_manifest():
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in [*K8S_DIR.glob("*.yaml"), *K8S_DIR.glob("*.yml")]}
    on_disk.discard("kustomization.yaml")
    assert listed == on_disk
    assert K8S_IMAGE in [image["name"] for image in kustomization().get("images", [])]


# === tests: autoscaling ==========================================================================


def test_every_deployment_has_exactly_one_autoscaler():
    targets = autoscaler_targets()
    for name, deployment in k8s_kind("Deployment").items():
        assert len(targets.get(name, [])) == 1, f"{name} is scaled by {targets.get(name)}"
        assert "replicas" not in deployment["spec"], f"{name}: `replicas` fights its autoscaler"
    assert set(targets) <= set(k8s_kind("Deployment")), "an autoscaler targets no Deployment"


def test_crm_api_scales_on_cpu():
    hpas = [
        h
        for h in k8s_kind("HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]["name"] == "crm-api"
    ]
    assert len(hpas) == 1
    spec = hpas[0]["spec"]
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    metrics = [m["resource"]["name"] for m in spec["metrics"] if m["type"] == "Resource"]
    assert metrics == ["cpu"]
    container = k8s_kind("Deployment")["crm-api"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"


@pytest.mark.parametrize("name", sorted(scaled_objects()))
def test_keda_scales_consumers_within_partitions(name: str):
    so = scaled_objects()[name]
    target = so["spec"]["scaleTargetRef"]["name"]
    deployment = k8s_kind("Deployment").get(target)
    assert deployment is not None, f"ScaledObject {name} targets no Deployment"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    service = service_of_module(container_module(container))
    assert service is not None
    assert service.name == target
    triggers = [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]
    assert triggers
    assert len(triggers) == len(so["spec"]["triggers"]), "scale on Kafka lag only"
    env = container_env(container)
    topics = []
    for trigger in triggers:
        meta = trigger["metadata"]
        assert meta["consumerGroup"] == service.name, "the consumer group id is the service name"
        assert meta["topic"] in PARTITIONS, f"{meta['topic']} is not in all_topic_specs()"
        assert int(meta["lagThreshold"]) > 0
        if "bootstrapServersFromEnv" in meta:
            assert meta["bootstrapServersFromEnv"] in env.names
        else:
            assert meta["bootstrapServers"]
        topics.append(meta["topic"])
    # A replica beyond the partition count of every topic it reads would own no partition.
    maximum = so["spec"]["maxReplicaCount"]
    assert maximum <= max(PARTITIONS[t] for t in topics), (
        f"{name}: maxReplicaCount {maximum} > partitions of {topics}"
    )
    assert so["spec"].get("minReplicaCount", 0) <= maximum


def _target(name: str) -> Service:
    so = scaled_objects()[name]
    return next(s for s in services() if s.name == so["spec"]["scaleTargetRef"]["name"])


CONSUMING_SCALED = sorted(n for n in scaled_objects() if subscribed(_target(n).package))
"""A ScaledObject may watch the topic a service will consume before it has a subscriber (as the
notifier's once did): only the services that consume today are compared."""


@pytest.mark.parametrize("name", CONSUMING_SCALED)
def test_keda_matches_what_the_service_consumes(name: str):
    """The group and topic KEDA watches are the ones the service's subscribers really use."""
    so = scaled_objects()[name]
    service = _target(name)
    subscriptions = subscribed(service.package)
    assert {group for group, _ in subscriptions} == {service.name}
    consumed = {topic for _, topics in subscriptions for topic in topics}
    for trigger in so["spec"]["triggers"]:
        assert trigger["metadata"]["topic"] in consumed, f"{service.name} does not consume it"


def test_some_scaled_consumer_really_subscribes():
    """Guards the skip above from hiding every case: some scaled service must really consume."""
    scaled = [
        s
        for s in services()
        if s.name in {so["spec"]["scaleTargetRef"]["name"] for so in scaled_objects().values()}
    ]
    assert any(subscribed(s.package) for s in scaled)


# === tests: topics ===============================================================================


def test_topic_names_in_manifests_exist():
    documents: list[Any] = [compose(), *(doc for _, doc in k8s_documents())]
    mentioned = {s for doc in documents for s in walk_strings(doc) if TOPIC_NAME.match(s)}
    assert mentioned, "the manifests name at least the topics KEDA scales on"
    assert mentioned <= set(PARTITIONS), f"unknown topics: {sorted(mentioned - set(PARTITIONS))}"


def test_compose_kafka_is_kraft_without_auto_creation():
    services_ = compose_services()
    kafka = services_["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = compose_env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in env)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services_["postgres"]["image"].split(":")[1].startswith("17")
    for name, svc in compose_app_services().items():
        app_env = compose_env(svc)
        if "KAFKA_BOOTSTRAP_SERVERS" in app_env:
            host = app_env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0]
            assert host == "kafka", f"{name} must use the compose broker"
        assert app_env.get("KAFKA_IDEMPOTENT_PRODUCER", "true") == "true", (
            f"{name}: Apache Kafka supports the idempotent producer (docs/adr/0004)"
        )


def test_compose_start_order():
    services_ = compose_services()
    one_shots = {name for name, svc in services_.items() if svc.get("restart") == "no"}
    assert {
        compose_service_running(m)[0] for m in ("crm_api.migrate", TOPICS_ADMIN_MODULE)
    } <= one_shots
    topics_service = compose_service_running(TOPICS_ADMIN_MODULE)[0]
    migrate_service = compose_service_running("crm_api.migrate")[0]
    for name, svc in services_.items():
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends.items():
            assert target in services_, f"{name} depends on unknown {target}"
            wanted = "service_completed_successfully" if target in one_shots else "service_healthy"
            assert spec.get("condition") == wanted, f"{name} -> {target}: condition {wanted}"
            if wanted == "service_healthy":
                assert "healthcheck" in services_[target], f"{target} has no healthcheck"
        if name not in compose_app_services():
            continue
        env = compose_env(svc)
        if is_service_main(compose_module(svc)) and "KAFKA_BOOTSTRAP_SERVERS" in env:
            assert topics_service in depends, f"{name} could start before its topics exist"
        if "DATABASE_URL" in env:
            db_host = re.sub(r".*@([^:/]+).*", r"\1", env["DATABASE_URL"])
            assert db_host in depends
            if name != migrate_service:
                assert migrate_service in depends, f"{name} could start before migrations ran"


# === tests: the Dockerfile =======================================================================


def test_dockerfile_builds_from_the_lockfile():
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.MULTILINE)
    assert base
    assert base.group(1) == "python:3.11-slim"
    froms = re.findall(r"^FROM\s+(\S+) AS (\S+)", text, flags=re.MULTILINE)
    assert froms
    # Python stages on the one base; the calendar page's npm package in its own Node stage.
    assert all(f in ("${PYTHON_IMAGE}", "python:3.11-slim") for f, stage in froms if stage != "web")
    assert ("node:20-slim", "web") in froms
    assert "npm ci --omit=dev" in text
    assert "COPY --from=web /web/node_modules /app/web/node_modules" in text
    assert "ENV WEB_ROOT=/app/web" in text
    pinned = re.search(r"UV_VERSION=(\S+)", (REPO / "scripts" / "bootstrap.sh").read_text())
    assert pinned
    assert f'"uv=={pinned.group(1)}"' in text, "the image's uv = bootstrap.sh's uv"
    assert re.search(r"uv pip sync .*requirements\.lock", text)
    assert dockerfile_user() != 0


def dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_lockfile_installs():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert dockerignored(".venv/bin/python", patterns)
    assert dockerignored(".git/HEAD", patterns)
    lock = (REPO / "requirements.lock").read_text()
    members = re.findall(r"^-e \./(\S+)", lock, flags=re.MULTILINE)
    assert members
    assert dockerignored("web/node_modules/@event-calendar/build/package.json", patterns)
    needed = ["requirements.lock", "web/package.json", "web/package-lock.json"]
    needed += [str(p.relative_to(REPO)) for p in (REPO / "web" / "app").iterdir()]
    for member in members:
        needed.append(f"{member}/pyproject.toml")
        needed += [str(p.relative_to(REPO)) for p in (REPO / member / "src").rglob("*.py")]
    kept_out = [path for path in needed if dockerignored(path, patterns)]
    assert not kept_out, f".dockerignore drops what the image installs: {kept_out[:5]}"


# === tests: the platform's broker and provisioned topics =========================================


def test_services_do_not_create_topics_themselves():
    from calsync_platform.kafka import make_broker

    broker = make_broker(ServiceSettings(), "deploy-test")
    assert broker.config.broker_config.allow_auto_create_topics is False


# === integration: topics_admin against the local broker ==========================================


async def describe_all(bootstrap_servers: str) -> dict[str, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    from calsync_platform.kafka import REQUEST_TIMEOUT_MS

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=REQUEST_TIMEOUT_MS
    )
    await admin.start()
    try:
        return partition_counts(await admin.describe_topics())  # all topics: naming one creates it
    finally:
        await admin.close()


async def run_topics_admin(bootstrap_servers: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "KAFKA_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TOPICS_TIMEOUT_S": "60",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", TOPICS_ADMIN_MODULE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.integration
async def test_topics_admin_creates_every_topic(local_kafka: Any):
    """``python -m calsync_platform.topics_admin`` exactly as compose and the Job run it. If the
    session already created the topics, the first run is itself the idempotence check."""
    servers = local_kafka.bootstrap_servers
    for attempt in (1, 2):
        result = await run_topics_admin(servers)
        assert result.returncode == 0, f"run {attempt}: {result.stdout}\n{result.stderr}"
        counts = await describe_all(servers)
        wrong = {
            spec.name: counts.get(spec.name)
            for spec in all_topic_specs()
            if counts.get(spec.name) != spec.partitions
        }
        assert not wrong, f"run {attempt}: topics missing or with other partition counts: {wrong}"


@pytest.mark.integration
async def test_ensure_topics_creates_then_leaves_alone(local_kafka: Any):
    """Fresh names, so creation itself is exercised even where the real topics already exist."""
    prefix = f"deploy-test.{uuid.uuid4().hex[:10]}"
    specs = (
        TopicSpec(f"{prefix}.events.v1", 3, "meeting_id"),
        TopicSpec(f"{prefix}.events.v1.dlq", 1, "meeting_id"),
    )
    first = await ensure_topics(local_kafka.bootstrap_servers, specs, timeout_s=60)
    assert set(first.created) == {s.name for s in specs}
    assert not first.existing
    counts = await describe_all(local_kafka.bootstrap_servers)
    assert {s.name: counts.get(s.name) for s in specs} == {s.name: s.partitions for s in specs}
    second = await ensure_topics(local_kafka.bootstrap_servers, specs, timeout_s=60)
    assert not second.created
    assert set(second.existing) == {s.name for s in specs}


@pytest.mark.integration
async def test_ensure_topics_refuses_a_topic_with_too_few_partitions(local_kafka: Any):
    name = f"deploy-test.{uuid.uuid4().hex[:10]}.narrow.v1"
    await ensure_topics(local_kafka.bootstrap_servers, [TopicSpec(name, 1, "connection_id")])
    with pytest.raises(TopicsAdminError, match=re.escape(name)):
        await ensure_topics(
            local_kafka.bootstrap_servers, [TopicSpec(name, 4, "connection_id")], timeout_s=30
        )
