"""Expectation suites declared in YAML (``expectations/<suite>.yml``), loaded and checked here.

The format is described in ``expectations/README.md``. Loading a suite checks everything that can
be checked without a database: known top-level keys, the expectation type (mapped generically to a
class of ``great_expectations.expectations``), the placeholders of every query, unique check names,
and the keyword arguments (GX builds every expectation once, so a wrong argument fails here, before
any run).

Great Expectations is imported lazily: importing this module is cheap (GX itself takes seconds).
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cchc.paths import EXPECTATIONS_DIR
from cchc.raw.schema import FEEDS

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

#: Logical schemas a suite may name as ``{raw}``, ``{marts}``, ``{kpi}``, ``{ops}``; ``run_gate``'s
#: ``schema_map`` maps them to physical schemas (e.g. ``{"kpi": "kpi_build"}``), default identity.
SCHEMAS: tuple[str, ...] = ("raw", "marts", "kpi", "ops")

#: The type that maps to ``gx.expectations.UnexpectedRowsExpectation`` (with ``query:``).
UNEXPECTED_ROWS = "unexpected_rows"

#: Suites of the "gate the batch" step, one per landed feed (the publication gate's suites are
#: found by :func:`published_suites`).
RAW_BATCH_SUITES: tuple[str, ...] = tuple(f"raw_{feed.table}" for feed in FEEDS)

_SUITE_KEYS = {"suite", "description", "table", "filterable", "vars", "include", "expectations"}
_FRAGMENT_KEYS = {"vars", "expectations"}
_CHECK_KEYS = {"type", "name", "description", "kwargs", "columns", "query"}
_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_GX_FILLS = {"batch"}  # placeholders GX itself fills in an unexpected-rows query


class SuiteError(ValueError):
    """A suite file that cannot be used (raised at load time, before any validation runs)."""


@dataclass(frozen=True)
class CheckSpec:
    """One declared check, before placeholders are filled."""

    name: str
    type: str  # as declared: a GX snake_case expectation name, or "unexpected_rows"
    kwargs: dict[str, Any]
    description: str | None = None

    @property
    def query(self) -> str | None:
        return self.kwargs.get("unexpected_rows_query")


@dataclass(frozen=True)
class SuiteSpec:
    """A loaded suite file: what to validate (``table``) and the checks."""

    name: str
    table: str  # with schema placeholders, e.g. "{kpi}.tthc_report"
    checks: tuple[CheckSpec, ...]
    path: Path
    description: str = ""
    filterable: bool = False
    vars: dict[str, Any] = field(default_factory=dict)

    def target(self, schema_map: dict[str, str] | None = None) -> str:
        """The validated table, schema-qualified, e.g. ``kpi_build.tthc_report``."""
        return _fill(self.table, resolve_schemas(schema_map), escape=False)

    def expectations(
        self, schema_map: dict[str, str] | None = None, batch_filter: str | None = None
    ) -> list[Expectation]:
        """The GX expectations of the suite with every placeholder filled."""
        values = {
            **{k: _sql_scalar(v) for k, v in self.vars.items()},
            **resolve_schemas(schema_map),
            "where": _filter_sql(batch_filter) if self.filterable else "true",
        }
        return [_build(self, check, values) for check in self.checks]


def available_suites(directory: Path = EXPECTATIONS_DIR) -> list[str]:
    """Names of the suite files in ``directory`` (fragments, named ``_*.yml``, excluded)."""
    return sorted(p.stem for p in directory.glob("*.yml") if not p.name.startswith("_"))


def published_suites(tables: list[str] | None = None, directory: Path = EXPECTATIONS_DIR) -> list[str]:
    """The suites of published tables (``table: "{kpi}.<name>"``), in the order of ``tables``
    (e.g. the candidate tables of the build schema), or all of them when ``tables`` is None.

    A table without a suite is refused: nothing is published unaudited.
    """
    by_table: dict[str, str] = {}
    for name in available_suites(directory):
        table = str(_read_yaml(directory / f"{name}.yml", _SUITE_KEYS).get("table", ""))
        if table.startswith("{kpi}."):
            by_table[table.removeprefix("{kpi}.")] = name
    if tables is None:
        return sorted(by_table.values())
    missing = [t for t in tables if t not in by_table]
    if missing:
        raise SuiteError(f"no suite validates the published table(s) {missing}: add expectations/<suite>.yml")
    return [by_table[t] for t in tables]


def load_suite(name: str, directory: Path = EXPECTATIONS_DIR) -> SuiteSpec:
    """Load and check ``<directory>/<name>.yml``; raises :class:`SuiteError` with the file's name."""
    path = directory / f"{name}.yml"
    if not path.is_file():
        known = ", ".join(available_suites(directory)) or "none"
        raise SuiteError(f"unknown suite {name!r}: no file {path} (known suites: {known})")
    doc = _read_yaml(path, _SUITE_KEYS)
    for key in ("suite", "table", "expectations"):
        if not doc.get(key):
            raise SuiteError(f"{path}: missing required key {key!r}")
    if doc["suite"] != name:
        raise SuiteError(f"{path}: 'suite: {doc['suite']}' must equal the file name {name!r}")

    variables: dict[str, Any] = {}
    raw_checks: list[tuple[Path, int, dict]] = []
    for include in _as_list(doc.get("include"), path, "include"):
        fragment_path = directory / include
        fragment = _read_yaml(fragment_path, _FRAGMENT_KEYS)
        variables.update(_mapping(fragment.get("vars"), fragment_path, "vars"))
        raw_checks += _check_entries(fragment, fragment_path)
    variables.update(_mapping(doc.get("vars"), path, "vars"))
    raw_checks += _check_entries(doc, path)
    for var in variables:
        if var in SCHEMAS or var in _GX_FILLS or var == "where":
            raise SuiteError(f"{path}: var {var!r} shadows a reserved placeholder")

    checks: list[CheckSpec] = []
    for origin, index, entry in raw_checks:
        checks += _expand(entry, f"{origin}: expectation #{index + 1}")
    seen: set[str] = set()
    for check in checks:
        if check.name in seen:
            raise SuiteError(f"{path}: two checks are named {check.name!r}; names must be unique")
        seen.add(check.name)

    spec = SuiteSpec(
        name=name,
        table=str(doc["table"]),
        checks=tuple(checks),
        path=path,
        description=str(doc.get("description") or ""),
        filterable=bool(doc.get("filterable", False)),
        vars=variables,
    )
    _check_placeholders(spec)
    spec.target()  # the table's placeholders
    spec.expectations()  # GX validates every type and keyword argument now
    return spec


def load_suites(names: list[str] | tuple[str, ...], directory: Path = EXPECTATIONS_DIR) -> list[SuiteSpec]:
    if not names:
        raise SuiteError("no suite named")
    if len(set(names)) != len(names):
        raise SuiteError(f"a suite is named twice in {list(names)}")
    return [load_suite(name, directory) for name in names]


def resolve_schemas(schema_map: dict[str, str] | None) -> dict[str, str]:
    """Logical → physical schema names (identity unless overridden); refuses unknown keys."""
    schema_map = dict(schema_map or {})
    unknown = sorted(set(schema_map) - set(SCHEMAS))
    if unknown:
        raise SuiteError(
            f"schema_map keys {unknown} are not logical schemas; use some of {list(SCHEMAS)}, "
            "e.g. schema_map={'kpi': 'kpi_build'}"
        )
    for logical, physical in schema_map.items():
        if not isinstance(physical, str) or not _IDENTIFIER.match(physical):
            raise SuiteError(f"schema_map[{logical!r}] = {physical!r} is not a plain schema name")
    return {s: schema_map.get(s, s) for s in SCHEMAS}


def expectation_class(type_name: str) -> type[Expectation]:
    """The GX class of a declared type: ``expect_column_values_to_not_be_null`` →
    ``gx.expectations.ExpectColumnValuesToNotBeNull``; ``unexpected_rows`` →
    :class:`cchc.quality.counted_rows.CountedUnexpectedRowsExpectation` (GX's
    ``UnexpectedRowsExpectation``, its query run once rather than twice)."""
    import great_expectations as gx

    if type_name == UNEXPECTED_ROWS:
        from cchc.quality.counted_rows import CountedUnexpectedRowsExpectation

        return CountedUnexpectedRowsExpectation
    class_name = "".join(part.capitalize() for part in type_name.split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if (
        not type_name.islower()
        or not isinstance(cls, type)
        or not issubclass(cls, gx.expectations.Expectation)
        or cls is gx.expectations.Expectation
    ):
        raise SuiteError(
            f"unknown expectation type {type_name!r}: no class {class_name} in "
            f"great_expectations.expectations (use a snake_case GX expectation name such as "
            f"'expect_column_values_to_not_be_null', or '{UNEXPECTED_ROWS}')"
        )
    return cls


# -- internals ------------------------------------------------------------------------------------


def _read_yaml(path: Path, allowed: set[str]) -> dict:
    if not path.is_file():
        raise SuiteError(f"{path}: file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise SuiteError(f"{path}: expected a mapping at the top level")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise SuiteError(f"{path}: unknown keys {unknown} (allowed: {sorted(allowed)})")
    return doc


def _as_list(value: Any, path: Path, key: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SuiteError(f"{path}: {key!r} must be a list")
    return value


def _mapping(value: Any, path: Path, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SuiteError(f"{path}: {key!r} must be a mapping")
    return value


def _check_entries(doc: dict, path: Path) -> list[tuple[Path, int, dict]]:
    entries = _as_list(doc.get("expectations"), path, "expectations")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SuiteError(f"{path}: expectation #{index + 1} must be a mapping")
    return [(path, index, entry) for index, entry in enumerate(entries)]


def _expand(entry: dict, where: str) -> list[CheckSpec]:
    """One YAML entry → its checks (``columns:`` gives one check per column)."""
    unknown = sorted(set(entry) - _CHECK_KEYS)
    if unknown:
        raise SuiteError(f"{where}: unknown keys {unknown} (allowed: {sorted(_CHECK_KEYS)})")
    type_name = entry.get("type")
    if not isinstance(type_name, str) or not type_name:
        raise SuiteError(f"{where}: missing 'type'")
    where = f"{where} ({type_name})"
    try:
        expectation_class(type_name)
    except SuiteError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    kwargs = dict(_mapping(entry.get("kwargs"), Path(where), "kwargs"))
    description = entry.get("description")

    if type_name == UNEXPECTED_ROWS:
        if not entry.get("query") or not entry.get("name"):
            raise SuiteError(f"{where}: '{UNEXPECTED_ROWS}' needs a 'name' and a 'query'")
        kwargs["unexpected_rows_query"] = " ".join(str(entry["query"]).split())
    elif "query" in entry:
        raise SuiteError(f"{where}: 'query' belongs to '{UNEXPECTED_ROWS}' only")

    columns = entry.get("columns")
    if columns is None:
        name = entry.get("name") or _default_name(type_name, kwargs)
        return [CheckSpec(str(name), type_name, kwargs, description)]
    if not isinstance(columns, list) or not columns or "column" in kwargs:
        raise SuiteError(f"{where}: 'columns' must be a non-empty list (and excludes kwargs.column)")
    template = str(entry.get("name") or f"{type_name}:{{column}}")
    if "{column}" not in template:
        raise SuiteError(f"{where}: with 'columns', the name must contain {{column}}")
    return [
        CheckSpec(template.replace("{column}", str(col)), type_name, {**kwargs, "column": col}, description)
        for col in columns
    ]


def _default_name(type_name: str, kwargs: dict) -> str:
    cols = kwargs.get("column") or kwargs.get("column_list") or [
        kwargs[k] for k in ("column_A", "column_B") if k in kwargs
    ]
    cols = [cols] if isinstance(cols, str) else list(cols)
    return f"{type_name}:{','.join(map(str, cols))}" if cols else type_name


def _check_placeholders(spec: SuiteSpec) -> None:
    allowed = set(SCHEMAS) | set(spec.vars) | _GX_FILLS | {"where"}
    for name in _PLACEHOLDER.findall(spec.table):
        if name not in SCHEMAS:
            raise SuiteError(f"{spec.path}: table {spec.table!r}: placeholder {{{name}}} is not one of {list(SCHEMAS)}")
    for check in spec.checks:
        if check.query is None:
            continue
        for name in _PLACEHOLDER.findall(check.query):
            if name not in allowed:
                raise SuiteError(
                    f"{spec.path}: check {check.name!r}: unknown placeholder {{{name}}} "
                    f"(known: {sorted(allowed)}; write literal braces as {{{{ and }}}})"
                )
            if name == "where" and not spec.filterable:
                raise SuiteError(f"{spec.path}: check {check.name!r} uses {{where}} but the suite is not filterable")


def _fill(template: str, values: dict[str, str], *, escape: bool) -> str:
    """Replace ``{name}`` for the names in ``values``; leave ``{batch}`` and ``{{``/``}}`` to GX.

    With ``escape``, the substituted text is made inert for GX's own pass (``str.format`` and
    SQLAlchemy's ``text()``): braces are doubled and colons escaped.
    """

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        if escape:
            value = value.replace("{", "{{").replace("}", "}}").replace(":", "\\:")
        return value

    return _PLACEHOLDER.sub(replace, template)


def _sql_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise SuiteError(f"var value {value!r} must be a string, a number or a boolean")


def _filter_sql(batch_filter: str | None) -> str:
    if batch_filter is None:
        return "true"
    if not batch_filter.strip() or ";" in batch_filter:
        raise SuiteError(f"batch_filter {batch_filter!r} must be one SQL boolean expression")
    return f"({batch_filter})"


def _build(spec: SuiteSpec, check: CheckSpec, values: dict[str, str]) -> Expectation:
    cls = expectation_class(check.type)
    kwargs = dict(check.kwargs)
    if check.query is not None:
        kwargs["unexpected_rows_query"] = _fill(check.query, values, escape=True)
    # Data Docs show the description (instead of GX's template) on validation pages: lead with the name.
    description = f"{check.name}: {' '.join(str(check.description).split())}" if check.description else None
    # GX prints a warning on stdout for an unexpected-rows query without {batch}; ours may address
    # other tables on purpose (the reject share reads raw.load_batches and raw.rejects).
    quiet = check.query is not None and "{batch}" not in check.query
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            return cls(
                **kwargs,
                description=description,
                meta={"cchc_check": check.name},
                notes=f"cchc check: {spec.name}.{check.name}",
            )
    except Exception as exc:  # pydantic's ValidationError and GX's own errors
        raise SuiteError(f"{spec.path}: check {check.name!r} ({check.type}): {exc}") from exc
