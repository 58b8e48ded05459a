"""One wording per concept (issue 10, part 2): static checks of the dbt project's documentation.

- A column name declared in two or more models is described in every declaration by a doc block,
  `description: "{{ doc('<block>') }}"`, never by literal text: its wording lives once, in a
  `{% docs %}` block of a `_*__docs.md` file under dbt_project/models/.
- Where the same column name means different things in different models, it has distinct doc
  blocks, and each of them names another block of that column (it says how and why it differs).
- Every doc() reference in the project's YAML resolves to a block, and every block is used.
- The rule index of dbt_project/models/overview.md names only files that exist, and every check it
  names (`path::name`) is in that file.

Nothing here runs dbt: `cchc docs` (tests/test_docs.py) runs `dbt docs generate`, which fails on a
doc() that does not resolve.
"""

from __future__ import annotations

import collections
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
DBT = ROOT / "dbt_project"
MODELS = DBT / "models"
OVERVIEW = MODELS / "overview.md"

DOC_REF = re.compile(r"""doc\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)""")
ONLY_DOC_REF = re.compile(r"""^\{\{\s*doc\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)\s*\}\}$""")
DOC_BLOCK = re.compile(r"\{%-?\s*docs\s+([A-Za-z0-9_]+)\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", re.S)


def yaml_files() -> list[pathlib.Path]:
    return sorted(p for folder in (MODELS, DBT / "seeds") for p in folder.rglob("*.yml"))


def model_columns() -> dict[str, list[tuple[str, str, str]]]:
    """column name -> [(model, description as written, yml path)] over every models YAML."""
    columns: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    for path in sorted(MODELS.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            for column in model.get("columns") or []:
                description = str(column.get("description") or "").strip()
                columns[column["name"]].append((model["name"], description, str(path.relative_to(ROOT))))
    return columns


def doc_blocks() -> dict[str, str]:
    """block name -> text, over every .md file of the dbt project (a name defined twice fails)."""
    blocks: dict[str, str] = {}
    duplicates = []
    for path in sorted(DBT.rglob("*.md")):
        if "target" in path.relative_to(DBT).parts or "dbt_packages" in path.relative_to(DBT).parts:
            continue
        for name, text in DOC_BLOCK.findall(path.read_text(encoding="utf-8")):
            if name in blocks:
                duplicates.append(f"{name} ({path.relative_to(ROOT)})")
            blocks[name] = text.strip()
    assert not duplicates, f"doc blocks defined twice: {duplicates}"
    return blocks


def shared_columns() -> dict[str, list[tuple[str, str, str]]]:
    return {name: decls for name, decls in model_columns().items() if len({m for m, _, _ in decls}) > 1}


def test_the_analysis_sees_the_project():
    columns = model_columns()
    assert len(columns) > 200 and "unit_id" in columns and len(columns["unit_id"]) > 10
    assert len(shared_columns()) > 50
    assert len(doc_blocks()) > 50


def test_a_column_declared_in_several_models_is_described_by_a_doc_block():
    problems = []
    for name, declarations in sorted(shared_columns().items()):
        for model, description, path in declarations:
            if not ONLY_DOC_REF.match(description):
                problems.append(f"{name} in {model} ({path}): {description!r}")
    assert not problems, (
        f"{len(problems)} declarations of a column shared by several models are not a bare "
        "\"{{ doc('...') }}\" (write the wording once in a _*__docs.md block):\n" + "\n".join(problems))


def test_a_column_with_several_meanings_says_how_they_differ():
    blocks = doc_blocks()
    problems = []
    for name, declarations in sorted(shared_columns().items()):
        used = sorted({m.group(1) for _, d, _ in declarations if (m := ONLY_DOC_REF.match(d))})
        if len(used) < 2:
            continue
        for block in used:
            others = [b for b in used if b != block]
            if not any(re.search(rf"\b{re.escape(other)}\b", blocks.get(block, "")) for other in others):
                problems.append(f"{name}: block {block} names none of {others}")
    assert not problems, ("a column name with distinct doc blocks must say, in each block, which other "
                          "block it differs from and why:\n" + "\n".join(problems))


def test_every_doc_reference_resolves_and_every_block_is_used():
    blocks = doc_blocks()
    referenced: dict[str, list[str]] = collections.defaultdict(list)
    for path in yaml_files():
        for name in DOC_REF.findall(path.read_text(encoding="utf-8")):
            referenced[name].append(str(path.relative_to(ROOT)))
    for path in sorted(DBT.rglob("*.md")):  # blocks may reference blocks
        for name in DOC_REF.findall(path.read_text(encoding="utf-8")):
            referenced[name].append(str(path.relative_to(ROOT)))
    missing = {name: paths for name, paths in referenced.items() if name not in blocks}
    assert not missing, f"doc() names no block: {missing}"
    unused = sorted(set(blocks) - set(referenced) - {"__overview__"})
    assert not unused, f"doc blocks no YAML references: {unused}"
# ---------------------------------------------------------------------------------------------
# The rule index (dbt_project/models/overview.md)

INDEX_PATH = re.compile(r"`((?:dbt_project|plugins|tests|expectations|benchmarks|dags|shared)/[^`\s]+?)`")


def index_references() -> list[tuple[str, str | None]]:
    text = OVERVIEW.read_text(encoding="utf-8")
    assert "## Rule index" in text, "overview.md has no '## Rule index' section"
    section = text.split("## Rule index", 1)[1]
    references = []
    for ref in INDEX_PATH.findall(section):
        path, _, check = ref.partition("::")
        references.append((path, check or None))
    return references


def test_the_rule_index_names_files_that_exist():
    references = index_references()
    assert len(references) > 40
    missing = sorted({path for path, _ in references if not (ROOT / path).exists()})
    assert not missing, f"overview.md's rule index names paths that do not exist: {missing}"


def test_the_rule_index_names_checks_that_exist():
    problems = []
    for path, check in index_references():
        if check is None or not (ROOT / path).is_file():
            continue
        text = (ROOT / path).read_text(encoding="utf-8")
        if not re.search(rf"\b{re.escape(check)}\b", text):
            problems.append(f"{path}::{check}")
    assert not problems, f"overview.md's rule index names checks its files do not have: {problems}"


@pytest.mark.parametrize("layer", ["dbt", "GX"])
def test_the_ownership_rule_is_written_in_both_places(layer):
    readme = (ROOT / "expectations" / "README.md").read_text(encoding="utf-8")
    overview = OVERVIEW.read_text(encoding="utf-8")
    for text in (readme, overview):
        assert "## One owner per check" in text
        section = text.split("## One owner per check", 1)[1]
        assert layer in section
