"""The deploy files work on a fresh machine: each is executed, verified or parsed here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kpi_archive.replay import RECORDED_LATER, RECORDED_SEEDS, RECORDED_SITE, ReplayServer

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
LOCK = REPO / "requirements.lock"
INSTALL_DIR = "/srv/kpi-archive"
KPI_ARCHIVE = Path(sys.executable).parent / "kpi-archive"
SEED = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"


def lock_pins() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_the_lock_pins_every_runtime_dependency_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = lock_pins()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {spec}"


def test_every_line_of_the_lock_is_an_exact_version() -> None:
    lines = [
        line
        for line in LOCK.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(lines) > 40
    for line in lines:
        name, equals, version = line.partition("==")
        assert equals and name == name.strip() and str(Version(version)) == version, line


def test_every_deploy_file_installs_from_the_lock() -> None:
    workflow = (DEPLOY / "github" / "nightly-crawl.yml").read_text()
    assert "pip install -r requirements.lock" in workflow
    assert "pip install --no-deps ." in workflow
    assert "pip install -r requirements.lock" in (DEPLOY / "README.md").read_text()


# cron


def crontab() -> tuple[dict[str, str], list[str]]:
    """The crontab's variables and its job lines' commands (after the five time fields)."""
    env, commands = {}, []
    for line in (DEPLOY / "crontab").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line[0].isdigit() or line[0] == "*":
            commands.append(line.split(None, 5)[5])
        else:
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env, commands


def fresh_install(root: Path) -> Path:
    """An install dir as a fresh checkout has it: the real program in .venv, no logs/ or data/."""
    install = root / "srv" / "kpi-archive"
    (install / ".venv" / "bin").mkdir(parents=True)
    (install / ".venv" / "bin" / "kpi-archive").symlink_to(KPI_ARCHIVE)
    return install


def test_the_cron_crawl_line_runs_on_a_fresh_machine(tmp_path: Path) -> None:
    install = fresh_install(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env, commands = crontab()
    [crawl] = [c for c in commands if " crawl " in c]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(SEED + "\n")
    with ReplayServer(RECORDED_SITE) as server:
        # Only the crawl's sources change: the shell part and the program are the real ones.
        here = f"--seeds-file {seeds} --map-host dp.bangkok.go.th={server.base('dp.bangkok.go.th')}"
        command = crawl.replace("crawl data/kpi.db", f"crawl data/kpi.db {here} --max-depth 0")
        command = command.replace(INSTALL_DIR, str(install))
        cron_env = {k: v.replace(INSTALL_DIR, str(install)) for k, v in env.items()}
        cron_env |= {"HOME": str(home), "KPI_ARCHIVE_HOST_DELAY": "0", "LANG": "C.UTF-8"}
        done = subprocess.run(
            [cron_env.get("SHELL", "/bin/sh"), "-c", command],
            env=cron_env,
            cwd=tmp_path,
            capture_output=True,
        )
        asked = [hit.target for hit in server.hits("dp.bangkok.go.th")]
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert asked == ["/robots.txt", "/mobile/mykpi.php?pid=0411-2029"]
    log = (install / "logs" / "crawl.log").read_text().splitlines()
    assert log[-1].startswith(
        "fetched 1, unchanged 0, new 1, changed 0, held 0, failed 0, gone 0 in "
    )
    assert (install / "data" / "kpi.db").is_file()
    assert list(home.iterdir()) == []
    assert sorted(p.name for p in install.iterdir()) == [".venv", "data", "logs"]


def test_the_cron_lines_are_valid_shell_and_the_health_line_alerts(tmp_path: Path) -> None:
    env, commands = crontab()
    assert env["PYTHAINLP_DATA"] == f"{INSTALL_DIR}/data/pythainlp-data"
    assert env["MAILTO"]
    for command in commands:
        assert subprocess.run(["/bin/sh", "-n", "-c", command]).returncode == 0
    [health] = [c for c in commands if " status " in c]
    assert "kpi-archive status data/kpi.db --max-age 36h" in health
    # Silent when healthy, the report (so a mail) when not.
    assert health.endswith("> logs/status.txt 2>&1 || cat logs/status.txt")


# systemd


def unit(name: str) -> dict[str, list[str]]:
    """``{key: [values]}`` of a unit file (systemd allows a key more than once)."""
    keys: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


def test_the_crawl_unit_fails_on_any_error_and_checks_health_after() -> None:
    crawl = unit("kpi-archive-crawl.service")
    # only "deadline reached" (exit 5) passes; 1, a crash's code too, fails the unit
    assert crawl["SuccessExitStatus"] == ["5"]
    assert crawl["ExecStart"] == [
        f"{INSTALL_DIR}/.venv/bin/kpi-archive crawl data/kpi.db --refresh-older-than 20h"
        " --deadline 4h"
    ]
    assert crawl["TimeoutStopSec"] == ["90"]
    assert crawl["ExecStartPost"] == [
        f"{INSTALL_DIR}/.venv/bin/kpi-archive status data/kpi.db --max-age 36h"
    ]
    assert crawl["OnFailure"] == ["kpi-archive-alert@%n.service"]
    assert (DEPLOY / "kpi-archive-alert@.service").is_file()


@pytest.mark.parametrize("name", ["kpi-archive-crawl.service", "kpi-archive-alert@.service"])
def test_a_unit_writes_only_its_data_folder(name: str) -> None:
    keys = unit(name)
    assert keys["ProtectSystem"] == ["strict"]
    assert keys["ProtectHome"] == ["true"]
    assert keys["ReadWritePaths"] == [f"{INSTALL_DIR}/data"]
    assert keys["Environment"] == [f"PYTHAINLP_DATA={INSTALL_DIR}/data/pythainlp-data"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    install = fresh_install(tmp_path)
    units = tmp_path / "units"
    units.mkdir()
    for path in DEPLOY.glob("kpi-archive-*"):
        text = path.read_text().replace(INSTALL_DIR, str(install))
        (units / path.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "kpi-archive-crawl.service", "kpi-archive-crawl.timer",
         "kpi-archive-alert@kpi-archive-crawl.service.service"],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"},
        cwd=units,
        capture_output=True,
        text=True,
    )  # fmt: skip
    # verify exits 0 on unknown keys, only warning: any line naming our units is a failure.
    assert (done.returncode, [line for line in done.stderr.splitlines() if "kpi" in line]) == (
        0,
        [],
    )


# GitHub Actions


def workflow() -> dict:
    return yaml.safe_load((DEPLOY / "github" / "nightly-crawl.yml").read_text())


def steps() -> dict[str, dict]:
    job = workflow()["jobs"]["crawl"]
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def test_the_workflow_runs_nightly_and_may_write_its_release() -> None:
    data = workflow()
    triggers = data[True]  # YAML 1.1 reads the key "on" as true
    assert triggers["schedule"] == [{"cron": "15 19 * * *"}]
    assert "workflow_dispatch" in triggers
    assert data["permissions"] == {"contents": "write", "actions": "write"}
    assert data["env"]["PYTHAINLP_DATA"] == "${{ github.workspace }}/data/pythainlp-data"


def test_the_workflow_uploads_the_archive_even_when_the_crawl_fails() -> None:
    by_name = steps()
    assert list(by_name) == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Install from the lock file",
        "Fetch the archive",
        "Crawl",
        "Upload the archive",
        "Health check",
        "Keep the schedule alive",
        "actions/upload-artifact@v4",
    ]
    upload = by_name["Upload the archive"]
    assert upload["if"].startswith("always() && steps.previous.outcome == 'success'")
    assert 'gh release upload "$ARCHIVE_TAG" data/kpi.db --clobber' in upload["run"]
    # The crawl stops before the job does, so the upload still has time to run.
    assert by_name["Crawl"]["timeout-minutes"] < workflow()["jobs"]["crawl"]["timeout-minutes"]
    # ... and itself stops taking pages well before that; reaching the deadline (5) is no failure
    assert "--deadline 150m" in by_name["Crawl"]["run"]
    assert by_name["Crawl"]["run"].endswith("|| test $? -eq 5")
    assert by_name["Crawl"]["timeout-minutes"] > 150
    assert by_name["Health check"]["run"] == "kpi-archive status data/kpi.db --max-age 36h"
    assert by_name["Health check"]["if"].startswith("always()")
    assert "actions/workflows/nightly-crawl.yml/enable" in by_name["Keep the schedule alive"]["run"]


def test_a_failed_download_never_starts_an_empty_archive() -> None:
    fetch = steps()["Fetch the archive"]["run"]
    assert 'grep -q "release not found"' in fetch
    assert fetch.rstrip().endswith("exit 1\nfi")


def test_every_workflow_script_is_valid_shell() -> None:
    for name, step in steps().items():
        if "run" in step:
            done = subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True)
            assert done.returncode == 0, (name, done.stderr)


# The recorded site is package data.


@pytest.mark.slow
def test_the_wheel_ships_the_recorded_site(tmp_path: Path) -> None:
    # A copy, so the build leaves no build/ or egg-info in the working tree.
    source = tmp_path / "source"
    for name in ("kpi_archive", "scraper", "parsers", "archive"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        p.relative_to(REPO).as_posix()
        for d in (RECORDED_SITE, RECORDED_LATER)
        for p in d.rglob("*")
        if p.is_file()
    }
    assert len(expected) == 108
    assert expected <= names
    assert RECORDED_SEEDS.relative_to(REPO).as_posix() in names
    assert "kpi_archive/replay_site/site/dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029" in names
