"""The project layout installs and imports, both as ``pip install .`` and ``pip install -e .``.

The top-level folders naming/, gc/ and security/ become ``orb.naming``,
``orb.gc`` and ``orb.security`` through setup.cfg's ``package_dir``
mapping. These tests build two fresh virtual environments (plain venvs,
not ``--system-site-packages``), install a copy of the source tree into
each, one normally and one in editable mode, and import the packages from
an unrelated working directory.

To stay fast and work offline, the venvs get no pip of their own: pip,
setuptools, wheel and orb's dependencies are borrowed from the environment
running the tests through a ``.pth`` file that points at a folder of
symlinks to its site-packages (leaving out orb itself), and the build runs
with ``--no-build-isolation --no-deps``.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
#: Top-level source folder -> the package it is installed as.
PACKAGES = {"orb": "orb", "naming": "orb.naming", "gc": "orb.gc", "security": "orb.security"}
MODES = ("installed", "editable")
STEP_TIMEOUT = 120  # seconds for one venv creation or pip run


def test_top_level_layout() -> None:
    for name in ("setup.cfg", "pyproject.toml"):
        assert (ROOT / name).is_file(), f"{name} is missing at the top level"
    for name in (*PACKAGES, "demos", "tests"):
        assert (ROOT / name).is_dir(), f"{name}/ is missing at the top level"
    for name in PACKAGES:
        assert (ROOT / name / "__init__.py").is_file(), f"{name}/ is not a package"
    # pyproject.toml declares how to build, nothing else: metadata lives in setup.cfg.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(pyproject) == {"build-system"}
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    mapping = dict(
        (part.strip() for part in line.split("=", 1))
        for line in setup["options"]["package_dir"].strip().splitlines()
    )
    assert mapping == {package: folder for folder, package in PACKAGES.items()}
    scripts = setup["options.entry_points"]["console_scripts"]
    assert "orb = " in scripts and "orb-naming = " in scripts


def _build_tools_missing() -> str | None:
    try:
        import setuptools
    except ImportError:
        return "setuptools is not installed in the test environment"
    version = tuple(int(part) for part in setuptools.__version__.split(".")[:2])
    if version < (70, 1):  # older setuptools builds wheels with the wheel package
        try:
            import wheel  # noqa: F401
        except ImportError:
            return "building offline needs the wheel package (pip install -e '.[test]')"
    return None


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.update(PIP_NO_INDEX="1", PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=STEP_TIMEOUT
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result


def _borrowed_site_packages(tmp: Path) -> Path:
    """A folder of symlinks to this environment's site-packages, without orb itself."""
    farm = tmp / "borrowed"
    farm.mkdir()
    for folder in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in Path(folder).iterdir():
            name = entry.name
            skip = (
                name == "orb"
                or name.startswith(("orb-", "orb.", "__editable__"))
                or name.endswith(".pth")
                or name == "__pycache__"
            )
            if not skip and not (farm / name).exists():
                (farm / name).symlink_to(entry)
    return farm


def _make_venv(tmp: Path, mode: str, source: Path, borrowed: Path) -> Path:
    venv = tmp / f"venv-{mode}"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
             cwd=tmp).stdout.strip()
    )
    (site / "borrowed-from-test-env.pth").write_text(f"{borrowed}\n")
    editable = ["-e"] if mode == "editable" else []
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
          *editable, str(source)], cwd=tmp)
    return venv


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two venvs with orb installed from a copy of the source tree: normal and editable."""
    missing = _build_tools_missing()
    if missing:
        pytest.skip(missing)
    tmp = tmp_path_factory.mktemp("packaging")
    # A copy, so building never writes build/ or *.egg-info into the working tree.
    source = tmp / "source"
    shutil.copytree(
        ROOT, source, symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
            ".hypothesis", "*.sock",
        ),
    )
    borrowed = _borrowed_site_packages(tmp)
    with ThreadPoolExecutor(len(MODES)) as pool:
        futures = {mode: pool.submit(_make_venv, tmp, mode, source, borrowed) for mode in MODES}
        made = {mode: future.result() for mode, future in futures.items()}
    made["source"] = source
    yield made


def _where(venv: Path, cwd: Path) -> dict[str, str]:
    """Where each package is imported from, by the venv's python in ``cwd``."""
    script = textwrap.dedent(
        """
        import gc, importlib, json, sys
        found = {name: importlib.import_module(name).__file__ for name in sys.argv[1:]}
        import orb._wire, orb.naming.__main__
        found["orb._wire"] = orb._wire.__file__
        found["gc (stdlib)"] = "builtin" if gc.__spec__.origin == "built-in" else gc.__file__
        for top in ("naming", "security"):
            try:
                importlib.import_module(top)
                found[top + " (top level)"] = "importable"
            except ImportError:
                found[top + " (top level)"] = "absent"
        print(json.dumps(found))
        """
    )
    result = _run([str(venv / "bin" / "python"), "-c", script, *PACKAGES.values()], cwd=cwd)
    return json.loads(result.stdout)


@pytest.mark.parametrize("mode", MODES)
def test_packages_import_from_the_right_place(
    venvs: dict[str, Path], mode: str, tmp_path: Path
) -> None:
    venv, source = venvs[mode], venvs["source"]
    elsewhere = tmp_path / "some" / "other" / "directory"
    elsewhere.mkdir(parents=True)
    found = _where(venv, elsewhere)
    if mode == "installed":
        site = next((venv / "lib").glob("python3*/site-packages"))
        expected = {
            "orb": site / "orb" / "__init__.py",
            "orb.naming": site / "orb" / "naming" / "__init__.py",
            "orb.gc": site / "orb" / "gc" / "__init__.py",
            "orb.security": site / "orb" / "security" / "__init__.py",
            "orb._wire": site / "orb" / "_wire" / "__init__.py",
        }
    else:
        expected = {
            "orb": source / "orb" / "__init__.py",
            "orb.naming": source / "naming" / "__init__.py",
            "orb.gc": source / "gc" / "__init__.py",
            "orb.security": source / "security" / "__init__.py",
            "orb._wire": source / "orb" / "_wire" / "__init__.py",
        }
    for name, path in expected.items():
        assert Path(found[name]).resolve() == path.resolve(), f"{name} came from {found[name]}"
    # The mapping adds only orb.*: the stdlib gc is untouched and no stray top-level packages.
    assert found["gc (stdlib)"] == "builtin"
    assert found["naming (top level)"] == "absent"
    assert found["security (top level)"] == "absent"


def test_install_contains_every_source_module(venvs: dict[str, Path]) -> None:
    # setup.cfg lists packages explicitly; a subpackage missing there would vanish here.
    site = next((venvs["installed"] / "lib").glob("python3*/site-packages"))
    source = venvs["source"]
    missing = []
    for folder, package in PACKAGES.items():
        target = site.joinpath(*package.split("."))
        for path in (source / folder).rglob("*.py"):
            relative = path.relative_to(source / folder)
            if "__pycache__" not in relative.parts and not (target / relative).is_file():
                missing.append(f"{folder}/{relative}")
    assert not missing, f"not installed by 'pip install .': {missing}"
    assert (site / "orb" / "py.typed").is_file()


@pytest.mark.parametrize("mode", MODES)
def test_console_scripts_are_installed(venvs: dict[str, Path], mode: str, tmp_path: Path) -> None:
    bin_dir = venvs[mode] / "bin"
    for script in ("orb", "orb-naming"):
        assert os.access(bin_dir / script, os.X_OK), f"{script} is not in {bin_dir}"
    result = _run([str(bin_dir / "orb"), "--version"], cwd=tmp_path)
    assert result.stdout.strip() == "orb 0.1.0"
    # orb-naming's entry point resolves to a callable in the installed package.
    check = (
        "from importlib.metadata import entry_points; "
        "main = entry_points(group='console_scripts')['orb-naming'].load(); "
        "print(main.__module__)"
    )
    assert _run([str(bin_dir / "python"), "-c", check], cwd=tmp_path).stdout.strip() == (
        "orb.naming.__main__"
    )
