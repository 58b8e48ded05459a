"""The dbt project's layout (README, "The dbt project's layout, and where it departs from
dbt-project-evaluator"), checked on the files: no database, no dbt run.

- Only staging reads sources: ``source(`` appears in staging models (through the macro
  latest_source_records or directly) and in that macro only; no intermediate, marts or publish
  model and no other macro calls it.
- Sources are named after their systems, one sources file per staging folder:
  ``staging/<source>/_<source>__sources.yml`` declares exactly the source ``<source>``, and the
  staging models of that folder are ``stg_<source>__<table>`` and read that source only.
- YAML files are named by folder (``_<folder>__models.yml`` in staging and marts,
  ``_int_<folder>__models.yml`` in intermediate, ``_publish_<folder>__models.yml`` in publish), one
  per folder, and describe the models of their own folder.
- Publish models are grouped by system (``publish/<system>/``): none at the top of publish/.
- Every record-level incremental model names the dependencies of its hooks
  (``-- depends_on: {{ incremental_dependencies(...) }}``, macros/incremental.sql).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DBT = Path(__file__).resolve().parents[1] / "dbt_project"
MODELS = DBT / "models"
LAYERS = ("staging", "intermediate", "marts", "publish")

SOURCE_CALL = re.compile(r"\bsource\(\s*['\"](\w+)['\"]")
SOURCES_READER_MACRO = DBT / "macros" / "latest_source_records.sql"


def _rel(path: Path) -> str:
    return str(path.relative_to(DBT))


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _model_folders() -> list[Path]:
    """Every folder under a layer that holds models (its .sql files)."""
    return sorted({p.parent for layer in LAYERS for p in (MODELS / layer).rglob("*.sql")})


def test_only_staging_reads_sources():
    offenders = []
    for path in sorted(MODELS.rglob("*.sql")):
        if path.relative_to(MODELS).parts[0] != "staging" and SOURCE_CALL.search(path.read_text(encoding="utf-8")):
            offenders.append(_rel(path))
    for path in sorted((DBT / "macros").rglob("*.sql")):
        if path != SOURCES_READER_MACRO and SOURCE_CALL.search(path.read_text(encoding="utf-8")):
            offenders.append(_rel(path))
    assert offenders == [], (
        f"these files call source(): only staging models (and the macro {_rel(SOURCES_READER_MACRO)}) "
        f"may; read the staging model of that source instead: {offenders}")


def test_no_sources_declared_outside_their_staging_folder():
    misplaced = []
    for path in sorted(DBT.rglob("*.yml")):
        if "target" in path.relative_to(DBT).parts or path.name == "dbt_project.yml":
            continue
        if "sources" in _yaml(path):
            folder = path.parent
            expected = MODELS / "staging" / folder.name / f"_{folder.name}__sources.yml"
            if path != expected:
                misplaced.append(_rel(path))
    assert misplaced == [], f"sources belong in staging/<source>/_<source>__sources.yml: {misplaced}"


def _staging_folders() -> list[Path]:
    return sorted(p for p in (MODELS / "staging").iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", _staging_folders(), ids=lambda p: p.name)
def test_staging_folder_is_one_source(folder: Path):
    name = folder.name
    sources_file = folder / f"_{name}__sources.yml"
    assert sources_file.exists(), f"staging/{name}/ has no sources file {sources_file.name}"
    sources = _yaml(sources_file)["sources"]
    assert [s["name"] for s in sources] == [name], (
        f"{_rel(sources_file)} must declare exactly the source {name!r} (named after its system), "
        f"found {[s['name'] for s in sources]}")
    tables = {t["name"] for t in sources[0]["tables"]}
    for sql in sorted(folder.glob("*.sql")):
        assert re.fullmatch(rf"stg_{name}__\w+\.sql", sql.name), (
            f"{_rel(sql)}: a staging model of source {name!r} is named stg_{name}__<table>")
        text = sql.read_text(encoding="utf-8")
        read = set(re.findall(r"latest_source_records\(\s*'(\w+)',\s*'(\w+)'", text))
        read |= set(re.findall(r"\bsource\(\s*'(\w+)',\s*'(\w+)'\s*\)", text))
        assert read, f"{_rel(sql)} reads no source"
        for source_name, table in read:
            assert source_name == name and table in tables, (
                f"{_rel(sql)} reads source('{source_name}', '{table}'): a model of staging/{name}/ reads "
                f"only the tables of source {name!r} ({sorted(tables)})")


def _models_yml_name(folder: Path) -> str:
    layer = folder.relative_to(MODELS).parts[0]
    prefix = {"staging": "", "marts": "", "intermediate": "int_", "publish": "publish_"}[layer]
    return f"_{prefix}{folder.name}__models.yml"


@pytest.mark.parametrize("folder", _model_folders(), ids=lambda p: str(p.relative_to(MODELS)))
def test_models_yaml_named_by_folder_and_describing_its_folder(folder: Path):
    expected = _models_yml_name(folder)
    model_files = sorted(p.name for p in folder.glob("*.yml") if "models" in _yaml(p))
    assert model_files == [expected], (
        f"models/{folder.relative_to(MODELS)}/ must describe its models in one file {expected}, found {model_files}")
    described = {m["name"] for m in _yaml(folder / expected)["models"]}
    here = {p.stem for p in folder.glob("*.sql")}
    assert described <= here, (
        f"{_rel(folder / expected)} describes models of another folder: {sorted(described - here)}")


def test_docs_files_named_by_folder():
    wrong = []
    for path in sorted(MODELS.rglob("*.md")):
        if path.parent == MODELS:
            continue  # project-wide pages (overview.md) and blocks shared by every layer
        folder = path.parent
        layer = folder.relative_to(MODELS).parts[0]
        prefix = {"staging": "", "marts": "", "intermediate": "int_", "publish": "publish_"}[layer]
        name = f"_{folder.name}__docs.md" if folder.name == layer else f"_{prefix}{folder.name}__docs.md"
        if path.name != name:
            wrong.append(f"{_rel(path)} (expected {name})")
    assert wrong == [], f"doc block files are named after their folder: {wrong}"


def test_publish_models_grouped_by_system():
    top = sorted(p.name for p in (MODELS / "publish").glob("*.sql"))
    assert top == [], f"publish models belong in publish/<system>/ (onestop, edoc, core, indicators): {top}"


def test_record_incremental_models_name_their_hook_dependencies():
    missing = []
    for path in sorted(MODELS.rglob("*.sql")):
        text = path.read_text(encoding="utf-8")
        uses_hooks = "record_incremental_config(" in text or "save_state_watermark(" in text
        if uses_hooks and not re.search(r"(?m)^-- depends_on: \{\{ incremental_dependencies\('stg_\w+'\) \}\}", text):
            missing.append(_rel(path))
    assert missing == [], (
        "these incremental models' hooks read stg_ledger__* but the model does not name them: add "
        f"-- depends_on: {{{{ incremental_dependencies('stg_...') }}}} (macros/incremental.sql): {missing}")
