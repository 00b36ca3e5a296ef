"""The production files: docker-compose.yml, Dockerfile, .dockerignore, deploy/Caddyfile, .env.example.

The structural checks read the files. The validators run where they are installed and are
skipped with a reason elsewhere: check-jsonschema (a dev extra) holds the file against the
Compose Specification's JSON schema; Debian's docker-compose v1 (`apt-get install
docker-compose`) interpolates and merges it the way compose does, without a Docker engine;
Caddy (`apt-get install caddy`) validates the Caddyfile offline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from core.settings import Settings
from forwarder.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
ENV_EXAMPLE = ROOT / ".env.example"

APP_SERVICES = ("migrate", "bot", "web", "worker")
PROCESSES = ("bot", "web", "worker")
ISSUE_SERVICES = {"postgres", "redis", "migrate", "bot", "web", "worker"}
# What a user puts in .env for compose (the rest comes from .env.example).
SAMPLE = {"DOMAIN": "fwd.example.org", "POSTGRES_PASSWORD": "s3cretpw", "WORKERS": "3"}
VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# -- helpers ----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def subcommands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


def env_example() -> tuple[set[str], set[str]]:
    """(KEY=value lines, commented #KEY=value lines) of .env.example."""
    active, commented = set(), set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=.*", line):
            active.add(m[1])
        elif m := re.fullmatch(r"#([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(m[1])
    return active, commented


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} over a whole document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        given = env.get(m["name"])
        op = m["op"] or ""
        if op.endswith("-"):
            return given if given else m["arg"]
        if op.endswith("?") and not given:
            raise KeyError(f"{m['name']}: {m['arg']}")
        return given or ""

    return VAR.sub(sub, value)


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def depends(service: dict[str, Any]) -> dict[str, str]:
    dep = service.get("depends_on") or {}
    if isinstance(dep, list):
        return {name: "service_started" for name in dep}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in dep.items()}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def caddy_site(text: str) -> tuple[str, str]:
    """The site address of the Caddyfile's one site block and its body."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    m = re.search(r"^(\S+)\s*\{\n(.*?)^\}", body, re.S | re.M)
    assert m, "no site block in deploy/Caddyfile"
    return m[1], m[2]


# -- docker-compose.yml -----------------------------------------------------------------------


def test_every_service_the_issue_names_exists_with_a_tls_proxy() -> None:
    svc = services()
    assert ISSUE_SERVICES <= set(svc)
    proxies = [name for name, s in svc.items() if str(s.get("image", "")).startswith("caddy:")]
    assert proxies == ["caddy"]


def test_worker_scales_no_fixed_name_or_host_port() -> None:
    svc = services()
    assert not any("container_name" in s for s in svc.values()), "a container_name forbids --scale"
    assert "ports" not in svc["worker"]
    # WORKERS in .env sets the count `docker compose up` keeps; 1 without it.
    assert interpolate(svc["worker"].get("scale", 1), {}) in (1, "1")
    assert interpolate(svc["worker"].get("scale", 1), {"WORKERS": "4"}) in (4, "4")


def test_every_service_has_a_restart_policy_and_migrate_runs_once() -> None:
    svc = services()
    for name, s in svc.items():
        assert "restart" in s, name
        if name == "migrate":
            assert s["restart"] == "no"
        else:
            assert s["restart"] in ("always", "unless-stopped"), name


def test_postgres_redis_and_web_have_health_checks_that_match_their_config() -> None:
    svc = services()
    pg_env = env_of(svc["postgres"])
    pg_test = " ".join(svc["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in pg_test
    assert f"-U {pg_env['POSTGRES_USER']}" in pg_test and f"-d {pg_env['POSTGRES_DB']}" in pg_test
    assert svc["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]

    from webapp.app import routes_of

    web_test = " ".join(svc["web"]["healthcheck"]["test"])
    url = re.search(r"http://[^'\" ]+", web_test)
    assert url, web_test
    parsed = urlparse(url[0])
    assert parsed.hostname == "127.0.0.1"
    assert parsed.port == int(env_of(svc["web"])["WEB_PORT"])
    assert parsed.path in {r.path for r in routes_of() if r.method == "GET"}


def test_redis_keeps_its_data_in_an_append_only_file_on_a_volume() -> None:
    c = compose()
    redis = c["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume = next(v for v in redis["volumes"] if v.split(":")[1] == "/data")
    assert volume.split(":")[0] in c["volumes"]


def test_data_dir_is_one_named_volume_shared_by_every_forwarder_process() -> None:
    c = compose()
    mounts = set()
    for name in APP_SERVICES:
        s = c["services"][name]
        data_dir = env_of(s)["DATA_DIR"]
        mounts |= {v for v in s["volumes"] if v.split(":")[1] == data_dir}
        assert [v for v in s["volumes"] if v.split(":")[1] == data_dir], name
    assert len(mounts) == 1, mounts
    assert next(iter(mounts)).split(":")[0] in c["volumes"]


def test_migrate_is_one_shot_and_the_processes_wait_for_it_to_succeed() -> None:
    svc = services()
    assert svc["migrate"]["command"] == ["migrate"]
    assert depends(svc["migrate"]) == {"postgres": "service_healthy"}
    for name in PROCESSES:
        assert depends(svc[name]) == {
            "postgres": "service_healthy", "redis": "service_healthy",
            "migrate": "service_completed_successfully",
        }, name


def test_forwarder_services_run_the_image_with_real_subcommands() -> None:
    svc = services()
    commands = subcommands()
    for name in APP_SERVICES:
        s = svc[name]
        assert s["build"] == ".", name
        assert s["command"][0] in commands, (name, s["command"])
        assert s.get("init") is True, name  # ffmpeg children get reaped, SIGTERM reaches forwarder


def test_the_proxy_publishes_443_and_proxies_to_web() -> None:
    svc = services()
    caddy = svc["caddy"]
    published = {str(p).split(":")[-2] for p in caddy["ports"]}
    assert {"80", "443"} <= published  # 80 for the ACME challenge and the redirect
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert any(v.split(":")[1] == "/data" for v in caddy["volumes"])  # certificates survive
    assert "web" in depends(caddy)
    # Only the proxy is reachable from outside; web listens on every interface inside.
    assert "ports" not in svc["web"]
    web_env = env_of(svc["web"])
    assert web_env["WEB_HOST"] == "0.0.0.0"

    address, body = caddy_site(CADDYFILE.read_text())
    assert address == "{$DOMAIN}"
    assert "DOMAIN" in env_of(caddy)
    assert re.search(r"^\s*reverse_proxy\s+web:(\d+)\s*$", body, re.M)[1] == web_env["WEB_PORT"]
    # The app's public URL is the proxy's domain, over https (Mini App, OAuth, Meta's fetches).
    app_url = interpolate(web_env["PUBLIC_BASE_URL"], SAMPLE)
    assert app_url == f"https://{SAMPLE['DOMAIN']}"
    assert interpolate(env_of(caddy)["DOMAIN"], SAMPLE) == SAMPLE["DOMAIN"]


def test_compose_values_are_valid_settings_pointing_at_the_compose_services() -> None:
    c = interpolate(compose(), SAMPLE)
    pg_env = env_of(c["services"]["postgres"])
    for name in APP_SERVICES:
        env = env_of(c["services"][name])
        settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
        db = urlparse(settings.resolved_database_url)
        assert db.scheme == "postgres" and db.hostname == "postgres" and db.port == 5432
        assert (db.username, db.password, db.path) == (
            pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], "/" + pg_env["POSTGRES_DB"])
        assert urlparse(settings.redis_url).hostname == "redis"
        assert not settings.uses_embedded_redis
        assert settings.public_base_url.startswith("https://")  # the bot offers the Mini App
        assert settings.ffmpeg_binary == "/usr/bin/ffmpeg"


def test_a_missing_domain_or_password_stops_compose_with_a_message() -> None:
    for name in ("DOMAIN", "POSTGRES_PASSWORD"):
        env = {k: v for k, v in SAMPLE.items() if k != name}
        with pytest.raises(KeyError, match=f"{name}: set {name} in .env"):
            interpolate(compose(), env)


# -- settings and .env.example ----------------------------------------------------------------


def test_env_example_names_every_setting_and_nothing_else() -> None:
    active, _ = env_example()
    settings = setting_names()
    assert active - settings == set(), "in .env.example but not a setting"
    assert settings - active == set(), "a setting .env.example does not document"
    for required in ("TELEGRAM_BOT_TOKEN", "ADMIN_IDS"):
        assert required in active


def test_every_variable_compose_names_is_a_setting_or_a_documented_compose_variable() -> None:
    _, compose_only = env_example()
    settings = setting_names()
    assert compose_only & settings == set(), "a compose-only variable the app would also read"
    for name in APP_SERVICES:
        assert set(env_of(services()[name])) - settings == set(), name
    used = {m["name"] for m in VAR.finditer(COMPOSE.read_text())}
    assert used - settings - compose_only == set(), "not a setting nor documented in .env.example"
    assert {"DOMAIN", "POSTGRES_PASSWORD", "WORKERS"} <= compose_only


# -- Dockerfile and .dockerignore -------------------------------------------------------------


def test_dockerfile_installs_the_distributions_ffmpeg() -> None:
    steps = dockerfile()
    runs = " ".join(arg for word, arg in steps if word == "RUN")
    assert re.search(r"apt-get install\b[^&;]*\bffmpeg\b", runs)
    assert not re.search(r"\b(curl|wget)\b", runs)  # no static build fetched from elsewhere
    base = next(arg for word, arg in steps if word == "FROM")
    m = re.fullmatch(r"python:(\d+)\.(\d+)-slim-(\w+)", base)
    assert m, base
    need = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    least = re.fullmatch(r">=(\d+)\.(\d+)", need)
    assert least and (int(m[1]), int(m[2])) >= (int(least[1]), int(least[2])), (base, need)
    env = " ".join(arg for word, arg in steps if word == "ENV")
    assert "FFMPEG_BINARY=/usr/bin/ffmpeg" in env and "DATA_DIR=/data" in env


def test_dockerfile_runs_the_forwarder_command_as_an_unprivileged_user() -> None:
    steps = dockerfile()
    entry = json.loads(next(arg for word, arg in steps if word == "ENTRYPOINT"))
    cmd = json.loads(next(arg for word, arg in steps if word == "CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry == ["forwarder"] and scripts["forwarder"] == "forwarder.cli:main"
    assert cmd[0] in subcommands()
    user = [arg for word, arg in steps if word == "USER"]
    assert user and user[-1] not in ("root", "0")
    # DATA_DIR is created and handed to that user before it is declared a volume.
    words = [word for word, _ in steps]
    chown = next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "chown" in a and "/data" in a)
    assert chown < words.index("VOLUME")


def test_dockerfile_copies_every_package_and_dockerignore_keeps_secrets_out() -> None:
    steps = dockerfile()
    sources = []
    for word, arg in steps:
        if word == "COPY":
            parts = [p for p in arg.split() if not p.startswith("--")]
            sources += parts[:-1]
    for src in sources:
        assert (ROOT / src).exists(), src
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {p.rstrip("*") for p in include["include"]}
    assert packages <= set(sources), packages - set(sources)
    assert {"pyproject.toml", "README.md"} <= set(sources)

    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    ignored = {p.rstrip("/") for p in patterns if not p.startswith("!")}
    assert {".env", ".venv", "data", ".git"} <= ignored
    assert not set(sources) & ignored


# -- validators -------------------------------------------------------------------------------


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_compose_file_passes_the_compose_specification_schema(tmp_path: Path) -> None:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (dev extra) is not installed")
    good = _check_jsonschema(COMPOSE)
    assert good.returncode == 0, good.stdout + good.stderr
    # The schema really constrains the file: a typo in a condition or a key is refused.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("service_completed_successfully", "service_completed")
                      .replace("healthcheck:", "healthchek:", 1))
    bad = _check_jsonschema(broken)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "service_completed" in bad.stdout and "healthchek" in bad.stdout


def _compose_project(tmp_path: Path, env: dict[str, str]) -> Path:
    (tmp_path / "deploy").mkdir(parents=True)
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    shutil.copy(CADDYFILE, tmp_path / "deploy" / "Caddyfile")
    extra = "".join(f"{k}={v}\n" for k, v in env.items())
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text() + extra)  # what README says to do
    return tmp_path


def _docker_compose(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker-compose", "-f", "docker-compose.yml", *args], cwd=project,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose v1 is not installed (apt-get install docker-compose)")
def test_docker_compose_config_accepts_the_file_with_env_example(tmp_path: Path) -> None:
    project = _compose_project(tmp_path / "ok", SAMPLE)
    quiet = _docker_compose(project, "config", "-q")
    assert quiet.returncode == 0, quiet.stderr
    resolved = yaml.safe_load(_docker_compose(project, "config").stdout)["services"]
    for name in APP_SERVICES:
        env = resolved[name]["environment"]
        # The compose values win over .env.example's local defaults (127.0.0.1, ./data, empty).
        assert env["DATABASE_URL"] == f"postgres://forwarder:{SAMPLE['POSTGRES_PASSWORD']}@postgres:5432/forwarder"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert (env["DATA_DIR"], env["WEB_HOST"]) == ("/data", "0.0.0.0")
        assert env["PUBLIC_BASE_URL"] == f"https://{SAMPLE['DOMAIN']}"
    assert resolved["worker"]["scale"] == 3
    assert resolved["caddy"]["environment"]["DOMAIN"] == SAMPLE["DOMAIN"]

    missing = _compose_project(tmp_path / "no-domain", {"POSTGRES_PASSWORD": "x"})
    refused = _docker_compose(missing, "config", "-q")
    assert refused.returncode != 0 and "set DOMAIN in .env" in refused.stderr


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_caddyfile_validates_and_proxies_the_domain_to_web(tmp_path: Path) -> None:
    caddy = shutil.which("caddy") or "caddy"
    # Its own HOME: validating provisions storage, which must not land in the real one.
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
           "DOMAIN": SAMPLE["DOMAIN"]}
    args = ["--config", str(CADDYFILE), "--adapter", "caddyfile"]
    valid = subprocess.run([caddy, "validate", *args], env=env, capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0, valid.stderr
    adapted = subprocess.run([caddy, "adapt", *args], env=env, capture_output=True, text=True, timeout=60)
    assert adapted.returncode == 0, adapted.stderr
    server = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]
    route = server["routes"][0]
    assert route["match"] == [{"host": [SAMPLE["DOMAIN"]]}]
    dials = re.findall(r'"dial":\s*"([^"]+)"', json.dumps(route))
    assert dials == ["web:8080"]


# -- README -----------------------------------------------------------------------------------


def readme_production() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## Production\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README.md has no '## Production' section"
    return m[1]


def test_readme_production_names_only_real_variables_commands_and_services() -> None:
    text = readme_production()
    _, compose_only = env_example()
    known = setting_names() | compose_only
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.S)
    variable = r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z][A-Z0-9_]{2,}(?==)|(?<=\$\{)[A-Z][A-Z0-9_]*"
    named = {w for span in spans for w in re.findall(variable, span)}
    named -= {"POSTGRES_USER", "POSTGRES_DB"}  # the postgres image's own, set in the compose file
    assert named, "no variable found: the pattern is wrong"
    assert named - known == set()

    svc = set(services())
    commands = subcommands()
    code = "\n".join(spans)
    run_or_exec = r"docker compose (?:run --rm(?: --no-deps)?|exec(?: -T)?) (\w+)(?: ([\w-]+))?"
    runs = list(re.finditer(run_or_exec, code))
    assert runs, "no docker compose run/exec found: the pattern is wrong"
    for m in runs:
        assert m[1] in svc, m[0]
        if m[2] is not None:  # a forwarder subcommand (run) or a program of the container (exec)
            assert m[2] in commands | {"pg_dump", "pg_restore", "cat"}, m[0]
    for m in re.finditer(r"--scale (\w+)=", code):
        assert m[1] in svc
    for m in re.finditer(r"\bforwarder (\w[\w-]*)", code):
        assert m[1] in commands, m[0]
    # The URLs to paste into BotFather and the Google console, on .env.example's sample domain.
    domain = re.search(r"^#DOMAIN=(\S+)$", ENV_EXAMPLE.read_text(), re.M)[1]
    for path in ("/app", "/oauth2callback"):
        assert f"https://{domain}{path}" in text, path
