"""The product apart from the demo (issue 10, part 5): what Airflow workers and the production
package import never loads the demo package ``cchc_demo`` (the simulator and its calendar).

- In a fresh interpreter under the project's Airflow configuration: Airflow's plugin loader (the
  plugins folder with its ``.airflowignore``), the DAG file, and every module of ``cchc`` (walked
  with pkgutil) are imported; no module of ``cchc_demo`` (by name, or by file: the plugin loader
  would import a file as a top-level module of its own) may be loaded.
- The source of ``plugins/cchc``: no module-level import of ``cchc_demo`` anywhere, and the only
  places that name it at all are the functions listed in ``LAZY_DEMO_IMPORTS``.
- The demo commands still reach the demo package through that lazy import.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ROOT / "plugins" / "cchc"
DEMO = ROOT / "plugins" / "cchc_demo"

#: the only places of the production package allowed to import cchc_demo: (file, function)
LAZY_DEMO_IMPORTS = {("cli.py", "_demo_commands")}

PROBE = r"""
import importlib, json, pkgutil, sys
from pathlib import Path

demo_dir = Path(sys.argv[1]).resolve()

def demo_modules():
    out = set()
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if name == "cchc_demo" or name.startswith("cchc_demo.") or (
                file and Path(file).resolve().is_relative_to(demo_dir)):
            out.add(name)
    return sorted(out)

from cchc.orchestration import apply_env
apply_env()
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()
plugins, plugin_errors = plugins_manager._get_plugins()
after_plugins = demo_modules()

from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="dags", bundle_name="dags-folder")
after_dag = demo_modules()

import cchc
imported, failed = [], {}
for info in pkgutil.walk_packages(cchc.__path__, "cchc."):
    try:
        importlib.import_module(info.name)
        imported.append(info.name)
    except Exception as exc:  # reported, not hidden: the test fails on it
        failed[info.name] = f"{type(exc).__name__}: {exc}"
from cchc.cli import build_parser
build_parser().parse_args(["demo"])  # the demo's options are declared without loading the demo
after_production = demo_modules()

importlib.import_module("cchc_demo.simulator")  # the probe sees the demo when it is loaded
print(json.dumps({
    "plugins": sorted(p.name for p in plugins), "plugin_errors": {k: str(v) for k, v in plugin_errors.items()},
    "dags": sorted(bag.dag_ids), "dag_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "imported": imported, "failed": failed,
    "after_plugins": after_plugins, "after_dag": after_dag, "after_production": after_production,
    "control": demo_modules(),
}))
"""


def test_airflow_the_dag_and_every_production_module_import_without_the_demo():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    res = subprocess.run([sys.executable, "-c", PROBE, str(DEMO)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["plugins"] == ["cchc"] and not out["plugin_errors"]
    assert out["dags"] == ["cchc_nightly"] and not out["dag_errors"]
    assert not out["failed"], out["failed"]
    # the walk reached the whole package, sub-packages included
    assert {"cchc.pipeline", "cchc.cli", "cchc.ledger.rules", "cchc.land.fastpath", "cchc.api.server",
            "cchc.quality.gate", "cchc.warehouse.roles"} <= set(out["imported"])
    assert not any(m.startswith("cchc.simulator") or m == "cchc.working_days" for m in out["imported"])
    assert out["after_plugins"] == [], "Airflow's plugin loader imported the demo"
    assert out["after_dag"] == [], "parsing the DAG imported the demo"
    assert out["after_production"] == [], "a production module imported the demo"
    assert {"cchc_demo", "cchc_demo.simulator", "cchc_demo.working_days"} <= set(out["control"])


def _demo_imports(path: Path) -> list[tuple[int, str | None]]:
    """Every place the file names cchc_demo (an import, or a string such as an import_module
    argument; docstrings aside), with the enclosing function's name (None: module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found: list[tuple[int, str | None]] = []

    def names_demo(node: ast.AST) -> bool:
        if isinstance(node, ast.Import):
            return any(a.name.split(".")[0] == "cchc_demo" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            return node.level == 0 and (node.module or "").split(".")[0] == "cchc_demo"
        return (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and (node.value == "cchc_demo" or node.value.startswith("cchc_demo.")))

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if names_demo(child):
                found.append((child.lineno, function))
            visit(child, child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function)

    visit(tree, None)
    return found


def test_no_production_module_imports_the_demo_except_the_listed_lazy_imports():
    sites: dict[tuple[str, str | None], list[int]] = {}
    for path in sorted(PRODUCTION.rglob("*.py")):
        for line, function in _demo_imports(path):
            sites.setdefault((path.relative_to(PRODUCTION).as_posix(), function), []).append(line)
    module_level = {site: lines for site, lines in sites.items() if site[1] is None}
    assert not module_level, f"module-level imports of cchc_demo in plugins/cchc: {module_level}"
    assert set(sites) == LAZY_DEMO_IMPORTS, (
        f"cchc_demo is named in plugins/cchc at {sorted(sites.items())}; allowed only in {sorted(LAZY_DEMO_IMPORTS)}")


def test_the_ast_check_finds_a_module_level_import(tmp_path):
    """The check above is not blind: a module-level import, an import in another function and an
    import_module string are all found, and a lazy import is attributed to its function."""
    probe = tmp_path / "probe.py"
    probe.write_text('"""cchc_demo.cli named in a docstring is no import."""\n'
                     "import cchc_demo.simulator\n"
                     "def f():\n    from cchc_demo import cli\n"
                     "def g():\n    import importlib\n    return importlib.import_module('cchc_demo.cli')\n")
    assert _demo_imports(probe) == [(2, None), (4, "f"), (7, "g")]


def test_the_demo_commands_reach_the_demo_package_lazily():
    from cchc import cli

    demo_cli = cli._demo_commands()
    assert demo_cli.__name__ == "cchc_demo.cli"
    args = cli.build_parser().parse_args(["simulate", "--out", "x", "--seed", "7"])
    cfg = demo_cli.config_from_args(args)
    # an option left out takes the simulator's default, --bad-rate the demo's
    assert cfg.seed == 7 and cfg.bad_rate == demo_cli.DEMO_BAD_RATE
    assert (cfg.start, cfg.end, cfg.dossiers_per_day) == (type(cfg)().start, type(cfg)().end, type(cfg)().dossiers_per_day)


def test_without_the_demo_package_the_demo_commands_say_so_and_the_others_work():
    """A production install without cchc_demo: `cchc simulate` fails with one clear line, `cchc run`
    still parses and checks its options."""
    code = ("import sys; sys.modules['cchc_demo'] = None  # as if not installed\n"
            "from cchc.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    base = [sys.executable, "-c", code]
    res = subprocess.run([*base, "simulate", "--out", "nowhere"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and "needs the demo package cchc_demo" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    res = subprocess.run([*base, "run", "--start", "2025-06-10", "--end", "2025-06-01", "--source-dir", "x"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "before --start" in res.stderr, res.stderr[-2000:]
