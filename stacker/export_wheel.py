"""`stacker export wheel`: an installable wheel of the bundle's Python package, built from the bundle.

The bundle head is exported (`git archive`) into a temporary directory and the package directory
named in stack.yaml (`package.path`) is built there by its own build backend, through
`python -m pip wheel --no-deps` in a subprocess — never in the user's checkout, never installed
into anyone's environment. By default pip builds in an isolated environment with the backend the
package's pyproject.toml asks for (from the package index); `isolation=False` uses the backend
already installed for the chosen interpreter instead (offline).

The version is the base's own release version (package_version.py) with the local label
`+<bundle>.<short head>`. It is handed to setuptools-scm / hatch-vcs through
SETUPTOOLS_SCM_PRETEND_VERSION (their own git lookup cannot work in an export), and the built wheel
is then rewritten to that version with fixed timestamps and order (wheel_repack.py), so the same
bundle head gives the same wheel bytes with any backend.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from stacker.bundle import PublishedBundle
from stacker.errors import BuildStopped, ConfigError
from stacker.package_version import BaseVersion, local_version, version_from_tags
from stacker.source import export_tree
from stacker.wheel_repack import repack_wheel

_DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"  # what pip uses for a project without [build-system]


@dataclass(frozen=True)
class InstallCheck:
    """The wheel installed into a fresh virtual environment: what the installer reports."""

    version: str
    pip_show: str


@dataclass(frozen=True)
class WheelExport:
    wheel: Path
    version: str
    base_version: BaseVersion
    sha256: str
    bundle: PublishedBundle
    package_path: str
    backend: str
    requires: tuple[str, ...]
    isolation: bool
    python: str
    source_date_epoch: int
    install: InstallCheck | None = field(default=None)

    def to_json(self) -> dict:
        b = self.bundle
        return {
            "wheel": str(self.wheel), "version": self.version, "sha256": self.sha256,
            "base_version": {"version": self.base_version.version, "tag": self.base_version.tag,
                             "commits_since_tag": self.base_version.distance, "source": self.base_version.source},
            "stack": b.stack.name, "repo": str(b.repo.path), "rev": b.rev, "head": b.head, "tree": b.tree,
            "base": b.base,
            "package": {"path": self.package_path, "build_backend": self.backend, "requires": list(self.requires)},
            "build_isolation": self.isolation, "python": self.python, "source_date_epoch": self.source_date_epoch,
            "install_check": None if self.install is None else
            {"version": self.install.version, "pip_show": self.install.pip_show},
        }


def export_wheel(bundle: PublishedBundle, out: Path, isolation: bool = True, python: str | None = None,
                 check_install: bool = False) -> WheelExport:
    stack = bundle.stack
    package = stack.package
    if package is None:
        raise ConfigError(f"{stack.path.name}: no 'package:' section naming the Python package to build "
                          "(package: {path: DIR, version_tags: GLOB})")
    python = python or sys.executable
    base_version = version_from_tags(bundle.repo, bundle.base, package.version_tags) if package.version_tags else None
    epoch = bundle.timestamp
    with tempfile.TemporaryDirectory(prefix="stacker-wheel-") as tmp:
        source = Path(tmp, "src")
        export_tree(bundle.repo.path, bundle.head, source)
        project = source / package.path
        if not ((project / "pyproject.toml").is_file() or (project / "setup.py").is_file()):
            raise ConfigError(f"{stack.path.name}:{package.line}: package path '{package.path}' has no "
                              f"pyproject.toml or setup.py at {bundle.rev} ({bundle.head[:12]})")
        backend, requires = _build_system(project)
        version = local_version(base_version.version, stack.name, bundle.head) if base_version else None
        built = _pip_wheel(python, project, Path(tmp, "dist"), isolation, epoch, version)
        if base_version is None:  # no release tags: the package's own version is the base's
            base_version = BaseVersion(version=_public_version(built), source="package")
            version = local_version(base_version.version, stack.name, bundle.head)
        wheel = repack_wheel(built, out.resolve(), version, epoch)
    install = install_check(python, wheel) if check_install else None
    return WheelExport(wheel=wheel, version=version, base_version=base_version,
                       sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(), bundle=bundle,
                       package_path=package.path, backend=backend, requires=requires, isolation=isolation,
                       python=python, source_date_epoch=epoch, install=install)


def _build_system(project: Path) -> tuple[str, tuple[str, ...]]:
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return _DEFAULT_BACKEND, ("setuptools>=40.8.0",)
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject.name} of the package is not valid TOML: {exc}") from None
    return table.get("build-backend", _DEFAULT_BACKEND), tuple(table.get("requires", ()))


def _pip_wheel(python: str, project: Path, dist: Path, isolation: bool, epoch: int, version: str | None) -> Path:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if version:
        env["SETUPTOOLS_SCM_PRETEND_VERSION"] = version
    command = [python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(project)]
    if not isolation:
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, cwd=project.parent, env=env, capture_output=True, text=True)
    wheels = sorted(dist.glob("*.whl")) if dist.is_dir() else []
    if done.returncode != 0 or len(wheels) != 1:
        tail = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-12:]
        hint = "" if isolation else " (without build isolation the backend must be installed for that interpreter)"
        raise BuildStopped(f"building the wheel failed (pip exit {done.returncode}){hint}: "
                           + " | ".join(line.strip() for line in tail))
    return wheels[0]


def _public_version(wheel: Path) -> str:
    raw = wheel.name.split("-")[1]
    try:
        return Version(raw).public
    except InvalidVersion:
        raise BuildStopped(f"{wheel.name}: the package built with version '{raw}', which is not PEP 440") from None


def install_check(python: str, wheel: Path) -> InstallCheck:
    """Install the wheel (no dependencies, no index) into a new virtual environment and ask pip about it."""
    name = wheel.name.split("-")[0]
    with tempfile.TemporaryDirectory(prefix="stacker-venv-") as tmp:
        venv = Path(tmp, "venv")
        _run([python, "-m", "venv", "--without-pip", str(venv)], "creating a virtual environment")
        venv_python = str(venv / "bin" / "python")
        pip = [python, "-m", "pip", "--python", venv_python, "--disable-pip-version-check"]
        _run([*pip, "install", "--no-index", "--no-deps", "--quiet", str(wheel)], f"installing {wheel.name}")
        shown = _run([*pip, "show", name], f"pip show {name}")
        version = _run([venv_python, "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
                       "reading the installed version").strip()
    return InstallCheck(version=version, pip_show=shown.strip())


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    if done.returncode != 0:
        tail = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-6:]
        raise BuildStopped(f"{what} failed: " + " | ".join(line.strip() for line in tail))
    return done.stdout
