"""The README says what is really there (issue 10): every repository path it names exists, its code
layout table lists the packages' modules, and its configuration section lists exactly the
``CCHC_*`` environment variables the code reads.

Which README tokens are repository paths (everything else in backticks is a command, a table, a
URL, a placeholder or runtime state and is not checked):
- a backticked token whose first part is an entry of the repository's root (``plugins/...``,
  ``dags/...``, ``dbt_project/...``, ``tests/...``, ``expectations/...``, ``benchmarks/...``,
  ``bench/...``, ``deploy/...``, ``Dockerfile``, …); a ``*`` is a glob that must match;
- ``seeds/...``, ``macros/...``, ``models/...``: dbt's names, under ``dbt_project/``;
- ``test_x.py`` and ``test_x.py::test_name`` (``…::test_name``: the file named before): a test file
  under ``tests/`` and a test function in it;
- a bare file name (``service_index.yml``, ``chunks.py``): some file of the repository has it;
- in the code layout table, a token of the second column relative to the row's folder;
- a dotted name of the packages (``cchc.ledger.rules``, ``cchc_demo.simulator.clock.due_time``): a
  module, and the name defined at its top level.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DBT_NAMES = ("seeds/", "macros/", "models/")
FILE_SUFFIXES = (".py", ".sql", ".yml", ".yaml", ".csv", ".md", ".sh", ".toml")
PATH_LIKE = re.compile(r"^[\w.\-/*]+(::\w+)?$")
TEST_REF = re.compile(r"^(?:tests/)?(test_\w+\.py|…)(?:::(\w+))?$")
MODULE_REF = re.compile(r"^(cchc(?:_demo)?(?:\.\w+)+)(?:\(.*\))?$")
VARIABLE = re.compile(r"\bCCHC_[A-Z0-9_]*[A-Z0-9]\b")


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of the same level."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert m, f"README has no section '## {heading}'"
    return m.group(1)


def _repo_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [f for f in out if f and (ROOT / f).exists()]


def _exists(rel: str) -> bool:
    rel = rel.rstrip("/") or "."
    return any(ROOT.glob(rel)) if "*" in rel else (ROOT / rel).exists()


def _layout_table(text: str) -> re.Match:
    m = re.search(r"^Code layout:\n\n((?:\|.*\n)+)", text, flags=re.M)
    assert m, "README has no 'Code layout:' table"
    return m


def _layout_rows(text: str) -> list[tuple[list[str], list[str]]]:
    """The code layout table's rows: (the first column's paths, the second column's tokens)."""
    rows = []
    for line in _layout_table(text).group(1).splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 2, f"layout row without two columns: {line}"
        rows.append((re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1])))
    return rows


def _path_like(token: str) -> bool:
    return bool(TEST_REF.match(token)) or bool(PATH_LIKE.match(token)) and not token.startswith((".cchc", "/", "../")) and (
        "/" in token or token.endswith(FILE_SUFFIXES) or "::" in token or (ROOT / token).is_file())


def _test_functions(test_file: Path) -> set[str]:
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _module_ref_problem(name: str) -> str | None:
    """Why a dotted name does not name a module of plugins/ (and a top-level name in it); None if it does."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT / "plugins" / Path(*parts[:i])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if not module.is_file():
            continue
        if i == len(parts):
            return None
        tree = ast.parse(module.read_text(encoding="utf-8"))
        defined = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.Import | ast.ImportFrom):
                defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        return None if parts[i] in defined else f"{'.'.join(parts[:i])} defines no {parts[i]}"
    return "no such module under plugins/"


def readme_path_problems(text: str) -> list[str]:
    """What the README names that the repository does not have (empty: all there)."""
    roots = {p.name for p in ROOT.iterdir()} - {".git", ".venv", ".cchc"}
    basenames = {Path(f).name for f in _repo_files()}
    problems: list[str] = []
    last_test_file: str | None = None
    layout = _layout_table(text)
    layout_lines = range(text.count("\n", 0, layout.start(1)) + 1, text.count("\n", 0, layout.end(1)) + 1)

    for line_no, line in enumerate(text.splitlines(), 1):
        if line_no in layout_lines:  # checked below, each token against its row's folder
            continue
        for token in re.findall(r"`([^`\n]+)`", line):
            module_ref = MODULE_REF.match(token)
            if module_ref:
                why = _module_ref_problem(module_ref.group(1))
                if why:
                    problems.append(f"README line {line_no}: `{token}`: {why}")
                continue
            if not _path_like(token):
                continue
            where = f"README line {line_no}: `{token}`"
            test_ref = TEST_REF.match(token)
            if test_ref and (test_ref.group(1) != "…" or last_test_file):
                name = last_test_file if test_ref.group(1) == "…" else test_ref.group(1)
                last_test_file = name
                test_file = ROOT / "tests" / name
                if not test_file.is_file():
                    problems.append(f"{where}: no tests/{name}")
                elif test_ref.group(2) and test_ref.group(2) not in _test_functions(test_file):
                    problems.append(f"{where}: tests/{name} has no test {test_ref.group(2)}")
            elif token.split("/")[0] in roots:
                if not _exists(token):
                    problems.append(f"{where}: not in the repository")
            elif token.startswith(DBT_NAMES):
                if not _exists("dbt_project/" + token):
                    problems.append(f"{where}: no dbt_project/{token}")
            elif "/" not in token and token.endswith(FILE_SUFFIXES) and token not in basenames:
                problems.append(f"{where}: no file of the repository has this name")

    for paths, tokens in _layout_rows(text):
        folder = paths[0] if len(paths) == 1 and paths[0].endswith("/") else None
        for token in paths + tokens:
            if not _path_like(token):
                continue
            # relative to the row's folder, else (`tests/...` in another row) to the repository
            candidates = ([folder + token] if folder else []) + ([token] if token.split("/")[0] in roots else [])
            if not any(_exists(c) for c in candidates):
                problems.append(f"code layout: `{token}` ({' or '.join(candidates) or 'no folder'}) "
                                "is not in the repository")
    return problems


def test_every_path_the_readme_names_exists():
    problems = readme_path_problems(_readme())
    assert not problems, "\n".join(problems)


def test_the_path_check_finds_a_missing_path():
    """Not blind: a wrong path of each kind is reported, the right ones are not."""
    text = ("x `plugins/cchc/nowhere.py` `macros/nowhere.sql` `test_nowhere.py` "
            "`test_package_boundaries.py::test_none` `nowhere_at_all.yml` `plugins/cchc/cli.py` "
            "`expectations/*.yml` `cchc demo` `.cchc/gx/reports/` `cchc.simulator.clock.due_time` "
            "`cchc_demo.simulator.clock.due_time` `cchc.ledger.rules.no_such_rule(x)` `cchc.ledger`\n\nCode layout:\n\n| path | what |\n|---|---|\n"
            "| `plugins/cchc_demo/` | `simulator/`, `gone.py` |\n")
    problems = readme_path_problems(text)
    assert [p.split(": `")[1].split("`")[0] for p in problems] == [
        "plugins/cchc/nowhere.py", "macros/nowhere.sql", "test_nowhere.py",
        "test_package_boundaries.py::test_none", "nowhere_at_all.yml", "cchc.simulator.clock.due_time",
        "cchc.ledger.rules.no_such_rule(x)", "gone.py"]


@pytest.mark.parametrize("package", ["cchc", "cchc_demo"])
def test_the_layout_table_lists_every_module_of_the_packages(package):
    folder = f"plugins/{package}/"
    rows = [tokens for paths, tokens in _layout_rows(_readme()) if paths == [folder]]
    assert rows, f"the code layout table has no row for `{folder}`"
    listed = {t.rstrip("/") for t in rows[0]}
    present = {p.name for p in (ROOT / folder).iterdir()
               if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")}
    assert present - listed == set(), f"in {folder} but not in the README's layout table: {sorted(present - listed)}"


def _code_variables(folders: tuple[str, ...]) -> set[str]:
    """``CCHC_*`` names the Python code under ``folders`` uses: string constants (an
    ``os.environ.get("CCHC_X")``, a settings helper's argument) and keyword names (an environment
    built with ``dict(CCHC_X=...)``); comments and docstrings aside."""
    names: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                          and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    if re.fullmatch(r"CCHC_[A-Z0-9_]+", node.value):
                        names.add(node.value)
                elif isinstance(node, ast.keyword) and node.arg and re.fullmatch(r"CCHC_[A-Z0-9_]+", node.arg):
                    names.add(node.arg)
    # a prefix (`k.startswith("CCHC_SOURCE")`) is not a variable
    return {n for n in names if not any(m.startswith(n + "_") for m in names)}


def _configuration() -> tuple[set[str], set[str], set[str]]:
    """The configuration section's variables: the table's, those set by the pipeline for the tools
    it runs, and those read by the tests."""
    section = _section(_readme(), "Configuration")
    table = {v for line in section.splitlines() if line.startswith("| `")
             for v in VARIABLE.findall(line.split("|")[1]) if not line.split("|")[1].strip().startswith("`$")}
    internal = re.search(r"^- \*Set by the pipeline for the tools it runs\*.*?(?=^- |\Z)", section, flags=re.M | re.S)
    tests = re.search(r"^- \*Read by the tests\*.*?(?=^- |\Z)", section, flags=re.M | re.S)
    assert internal and tests, "the configuration section lists the pipeline's own and the tests' variables apart"
    return table, set(VARIABLE.findall(internal.group(0))), set(VARIABLE.findall(tests.group(0)))


def test_the_configuration_section_lists_exactly_the_variables_the_code_reads():
    table, internal, tests = _configuration()
    code = _code_variables(("plugins", "dags"))
    assert not table & internal, f"both configuration and the pipeline's own: {sorted(table & internal)}"
    assert code - table - internal == set(), f"read by the code, not in the README: {sorted(code - table - internal)}"
    assert table - code == set(), f"in the README's table, read by no code: {sorted(table - code)}"
    assert internal - code == set(), f"listed as set by the pipeline, named by no code: {sorted(internal - code)}"
    test_code = _code_variables(("tests",)) - code
    assert tests - code == test_code, (  # the tests' entry may mention a variable of the table
        f"variables only the tests read: README {sorted(tests - code)}, tests {sorted(test_code)}")


def test_every_variable_the_readme_names_exists():
    """Anywhere in the README: a CCHC_* name is used by the code, the tests or the deployment files."""
    deployment = "".join((ROOT / f).read_text(encoding="utf-8") for f in ("docker-compose.yml", ".env.example",
                                                                          "Dockerfile", "Makefile"))
    known = (_code_variables(("plugins", "dags", "tests", "benchmarks")) | set(VARIABLE.findall(deployment))
             | set(VARIABLE.findall((ROOT / "dbt_project" / "profiles.yml").read_text(encoding="utf-8"))))
    unknown = set(VARIABLE.findall(_readme())) - known
    assert not unknown, f"the README names variables nothing uses: {sorted(unknown)}"
