"""The ``cchc`` command line: run the nightly job, the demo, the simulator, and housekeeping.

    cchc demo                                  generate the demo province's sources and run them
    cchc run --start D1 --end D2 --source-dir DIR | --source-url URL
    cchc db-url | db-status | db-stop
    cchc readers add NAME [--unit U | --all-units] | list | remove NAME
                                             BI logins that read the published schema kpi
    cchc simulate --start D1 --end D2 --out DIR
    cchc serve-sources --root DIR [--port 8080]
    cchc summary                               what the last publication says
    cchc docs [--out DIR] [--serve [--port P]]  dbt docs of the warehouse in use
    cchc batches [--review] | accept ID --reason T | reject ID --reason T   the batch ledger
    cchc rebuild                               rebuild from every batch in force and publish
    cchc publications                          every publication (current, completeness, kept)
    cchc rollback [--to ID] [--reason TEXT]    make an earlier kept publication current again
    cchc airflow ARGS...                       the Airflow CLI with this project's configuration
    cchc api [--host H] [--port P]             the KPI API (read-only, over kpi)
    cchc export report|late-units|esignature --period-type T --period D --format xlsx|csv --out FILE
    cchc bulletin [--out DIR]                  the current publication's bulletin (HTML with charts, PDF)
    cchc api-tokens issue --unit U|--province --label T | list | revoke ID   the API's bearer tokens
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path

from cchc.paths import state_dir

log = logging.getLogger("cchc")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"))
    cchc_log = logging.getLogger("cchc")
    cchc_log.handlers[:] = [handler]
    cchc_log.setLevel(logging.DEBUG if verbose else logging.INFO)
    cchc_log.propagate = False


def cmd_db_url(args) -> int:
    from cchc.warehouse import warehouse_url

    print(warehouse_url())
    return 0


def cmd_readers(args) -> int:
    from cchc.warehouse.connection import WarehouseError
    from cchc.warehouse.roles import RoleError, add_reader, list_readers, remove_reader

    try:
        if args.readers_command == "add":
            login = add_reader(args.name, unit=args.unit, all_units=args.all_units)
            print(("password of BI login %s rotated: the old one no longer works (open sessions stay)"
                   if login.rotated else "BI login %s created: it reads schema kpi, nothing else") % login.name)
            print(f"  sees: unit {login.unit} and the units under it, in every kpi table with a unit_id"
                  if login.unit else "  sees: every unit")
            print(f"  URL:  {login.url}\n  psql: {login.psql}\n"
                  "The password is shown only now: put it in the BI tool's connection settings.")
        elif args.readers_command == "list":
            readers = list_readers()
            for r in readers:
                until = f", valid until {r['valid_until']}" if r["valid_until"] else ""
                scope = f"unit {r['unit']} and its subtree" if r["unit"] else "every unit"
                print(f"{r['name']}{'' if r['can_login'] else ' (cannot log in)'}{until}  (sees {scope})")
            if not readers:
                print("no BI logins (cchc readers add NAME)")
        else:
            print(f"dropped BI login {args.name}" if remove_reader(args.name) else f"no role {args.name}")
    except RoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_docs(args) -> int:
    from cchc.transform.docs import DocsError, generate_docs, serve_docs

    try:
        docs = generate_docs(Path(args.out).resolve() if args.out else None)
    except DocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dbt docs of the warehouse as of {docs.as_of_date} (publication {docs.publication_id or 'none yet'}):\n"
          f"  {docs.index}  (served: cchc docs --serve)\n  {docs.static_index}  (one file, opens from disk)")
    if args.serve:
        serve_docs(docs.folder, port=args.port)
    return 0


def cmd_db_status(args) -> int:
    from cchc.settings import warehouse_url_override

    if warehouse_url_override():
        print("external warehouse (CCHC_WAREHOUSE_URL)")
        return 0
    from cchc.warehouse.connection import embedded_server

    server = embedded_server()
    port = server.running_port()
    print(f"embedded PostgreSQL in {server.data_dir}: " + (f"running on 127.0.0.1:{port}" if port else "stopped"))
    return 0


def cmd_db_stop(args) -> int:
    from cchc.warehouse.connection import embedded_server

    print("stopped" if embedded_server().stop() else "was not running")
    return 0


def _print_outcome(outcome, t0: float) -> int:
    took = time.monotonic() - t0
    if outcome.state != "success":
        print(f"\nFAILED: run {outcome.run_id} failed at step '{outcome.failed_step}' after {took:.0f}s:\n"
              f"  {outcome.reason}", file=sys.stderr)
        return 1
    print(f"\nrun {outcome.run_id} succeeded in {took:.0f}s")
    return 0


def cmd_run(args) -> int:
    from cchc.orchestration import run_nightly
    from cchc.settings import SourceSettings

    if args.end < args.start:
        print(f"error: --end {args.end} is before --start {args.start}", file=sys.stderr)
        return 2
    try:
        SourceSettings.from_env(args.source_dir, args.source_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    outcome = run_nightly(start=args.start, end=args.end,
                          source_dir=str(Path(args.source_dir).resolve()) if args.source_dir else None,
                          source_url=args.source_url)
    code = _print_outcome(outcome, t0)
    if code == 0:
        if args.command == "demo":  # make run: the bulletin's PDF and the engineers' dbt docs (summary says where)
            from cchc.reports.commands import write_after_run

            write_after_run(pdf=True)  # the publish step wrote its HTML
            _refresh_dbt_docs()
        _print_summary()
    return code


def _demo_commands():
    """The demo's commands (``cchc_demo.cli``), imported only when ``cchc demo``, ``cchc simulate``
    or ``cchc serve-sources`` runs: the production package never imports the demo package
    (tests/test_package_boundaries.py lists this function as the one place that does)."""
    try:
        from cchc_demo import cli as demo_cli
    except ModuleNotFoundError as exc:
        if exc.name not in ("cchc_demo", "cchc_demo.cli"):
            raise
        raise RuntimeError("this command needs the demo package cchc_demo, which is not installed here "
                           "(it is plugins/cchc_demo of the repository, installed by `pip install -e .`)") from None
    return demo_cli


def cmd_demo(args) -> int:
    out, cfg = _demo_commands().ensure_demo_sources(args, default_out=state_dir() / "demo-sources")
    args.start, args.end = cfg.start, cfg.end
    args.source_dir, args.source_url = str(out), None
    return cmd_run(args)


def _refresh_dbt_docs() -> None:
    from cchc.transform.docs import DocsError, refresh_docs

    try:
        refresh_docs()
    except DocsError as exc:  # the numbers are published; the docs are not worth failing the demo for
        log.warning("dbt docs not written: %s", exc)


def cmd_summary(args) -> int:
    return 0 if _print_summary() else 1


def _print_summary() -> bool:
    from cchc.summary import latest_summary

    text = latest_summary()
    print(text)
    return bool(text)


def cmd_publications(args) -> int:
    from cchc.publish import list_publications
    from cchc.warehouse import connect

    with connect() as conn:
        pubs = list_publications(conn)
    if not pubs:
        print("no publication yet")
        return 0

    def days(pub) -> str:
        if pub.missing_days is None:
            return "?"
        return ", ".join(f"{s}: {len(d)}" for s, d in sorted(pub.missing_days.items())) or "none"

    def through(pub) -> str:
        if pub.complete_through is None:
            return "?"
        return ", ".join(f"{s} {d}" for s, d in sorted(pub.complete_through.items())) or "-"

    head = ("", "id", "as_of_date", "published_at", "rows", "checks", "complete_through",
            "missing days", "rolled_back_from", "kept")
    rows = [("*" if p.is_current else "", str(p.publication_id), str(p.as_of_date),
             f"{p.published_at:%Y-%m-%d %H:%M:%S}" if p.published_at else "", str(p.rows_published),
             f"{p.checks_evaluated} ({p.checks_failed} failed)", through(p), days(p),
             str(p.rolled_back_from or ""), "yes" if p.kept else f"no (dropped {p.tables_dropped_at:%Y-%m-%d})")
            for p in pubs]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    for r in (head, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print("\n* current publication (what kpi shows)")
    return 0


def cmd_rollback(args) -> int:
    from cchc.publish import PublishError, operator, rollback
    from cchc.warehouse import connect

    with connect() as conn:
        try:
            pub = rollback(conn, to=args.to, by=operator(), reason=args.reason)
        except PublishError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"publication {pub.publication_id} (as of {pub.as_of_date}) is current again, "
          f"rolled back from {pub.rolled_back_from}")
    return 0


def cmd_batches(args) -> int:
    """List the batch ledger, or accept / reject a batch."""
    from cchc.ledger import LedgerError, list_batches, review
    from cchc.publish import operator
    from cchc.raw import ensure_raw_schema
    from cchc.readiness import LOCAL_TZ
    from cchc.warehouse import connect

    with connect() as conn:
        ensure_raw_schema(conn)
        conn.commit()
        if args.action in ("accept", "reject"):
            if args.batch_id is None or not args.reason:
                print(f"error: usage: cchc batches {args.action} BATCH_ID --reason TEXT", file=sys.stderr)
                return 2
            try:
                after = review(conn, args.batch_id, action=args.action, by=operator(), reason=args.reason)
            except LedgerError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            then = {"pending": "it goes through the batch gate at the next run (e.g. `cchc run` of its day)",
                    "in_force": "it is in force; the next run builds and publishes with it",
                    "rejected": "it will never be read"}[after]
            print(f"batch {args.batch_id}: {args.action}ed, now {after}: {then}")
            return 0
        dispositions = ["held", "blocked"] if args.review else (args.disposition or None)
        rows = list_batches(conn, system=args.system, feed=args.feed, day=args.day,
                            dispositions=dispositions, limit=args.limit)
    if not rows:
        print("no batches" + (" await review" if args.review else ""))
        return 0
    print(f"{'batch':>7}  {'day':10}  {'system/feed':22} {'disposition':11} {'generated_at':25} "
          f"{'lines':>7} {'landed':>7} {'rej':>5}  gate    why")
    for r in rows:
        gen = r["generated_at"].astimezone(LOCAL_TZ).isoformat() if r["generated_at"] else "-"
        print(f"{r['batch_id']:>7}  {r['source_day']!s:10}  {r['system'] + '/' + r['feed']:22} "
              f"{r['disposition'] or '?':11} {gen:25} {r['lines_read']:>7} {r['rows_landed']:>7} "
              f"{r['rows_rejected']:>5}  {r['gate_verdict'] or '-':7} {r['disposition_reason'] or ''}")
    return 0


def cmd_rebuild(args) -> int:
    """Rebuild the warehouse from every batch in force (no landing) and publish."""
    from cchc.pipeline import PipelineError, run_in_process

    run_id = f"rebuild__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    t0 = time.monotonic()
    try:
        out = run_in_process(run_id=run_id, full_rebuild=True)
    except PipelineError as exc:
        print(f"\nFAILED: {run_id} failed at step '{exc.step}':\n  {exc.reason}", file=sys.stderr)
        return 1
    print(f"\n{run_id} published {out['publication_id']} as of {out['as_of_date']} "
          f"({out['rows_published']} rows) in {time.monotonic() - t0:.0f}s")
    for note in out.get("notes") or []:
        print(f"  ! {note}")
    return 0


def cmd_simulate(args) -> int:
    return _demo_commands().cmd_simulate(args)


def cmd_serve_sources(args) -> int:
    return _demo_commands().cmd_serve_sources(args)


def cmd_api(args) -> int:
    from cchc.api.server import serve

    serve(args.host, args.port)
    return 0


def cmd_api_tokens(args) -> int:
    from cchc.api.tokens import TokenError, issue_token, list_tokens, revoke_token
    from cchc.api.units import UnitsUnavailable, load_units
    from cchc.publish import operator
    from cchc.warehouse import connect

    with connect() as conn:
        conn.autocommit = True
        try:
            if args.tokens_command == "issue":
                if bool(args.unit) == bool(args.province):
                    print("error: give --unit UNIT_ID or --province", file=sys.stderr)
                    return 2
                unit = load_units(conn).root if args.province else args.unit
                token, info = issue_token(conn, scope_unit_id=unit, label=args.label, by=operator())
                print(f"API token {info.token_id} ({info.label}) for unit {info.scope_unit_id} "
                      "and the units under it:\n"
                      f"  {token}\nShown only now (only its SHA-256 is stored). Use it as "
                      "'Authorization: Bearer <token>'; revoke it with: cchc api-tokens revoke " + info.token_id)
            elif args.tokens_command == "list":
                tokens = list_tokens(conn)
                for t in tokens:
                    state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
                    print(f"{t.token_id}  {t.scope_unit_id:16} {state:24} {t.created_at:%Y-%m-%d}  {t.label}")
                if not tokens:
                    print("no API tokens (cchc api-tokens issue --unit UNIT_ID --label TEXT)")
            else:
                info = revoke_token(conn, args.token_id, by=operator())
                print(f"API token {info.token_id} ({info.label}) revoked at {info.revoked_at:%Y-%m-%d %H:%M:%S}")
        except (TokenError, UnitsUnavailable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def cmd_airflow(args) -> int:
    from cchc.orchestration import apply_env, ensure_metadata_db

    ensure_metadata_db()
    apply_env()
    # `airflow standalone` starts its components as `airflow ...` subprocesses: find this venv's
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.execv(sys.executable, [sys.executable, "-m", "airflow", *args.airflow_args])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cchc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def sim_options(sp):  # an option left out: the demo's default (cchc_demo.cli.config_from_args)
        sp.add_argument("--start", type=_date, help="first day (default: the demo's first day)")
        sp.add_argument("--end", type=_date, help="last day (default: the demo's last day)")
        sp.add_argument("--seed", type=int, help="the same seed gives byte-identical files")
        sp.add_argument("--dossiers-per-day", type=int, help="province total on a working day")
        sp.add_argument("--bad-rate", type=float,
                        help="share of bad lines injected into the feeds (default: the demo's 1 %%)")

    sp = sub.add_parser("run", help="run the nightly job for each day of a range, then publish once")
    sp.add_argument("--start", type=_date, required=True)
    sp.add_argument("--end", type=_date, required=True)
    src = sp.add_mutually_exclusive_group()
    src.add_argument("--source-dir", help="root of the export folders ({root}/{system}/{day}/...)")
    src.add_argument("--source-url", help="base URL of the HTTP API (token from CCHC_SOURCE_TOKEN)")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("demo", help="generate the demo province's sources and run the nightly job over them")
    sim_options(sp)
    sp.add_argument("--out", help="where to write the demo sources (default $CCHC_HOME/demo-sources)")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("simulate", help="write the simulator's export folders")
    sim_options(sp)
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_simulate)

    sp = sub.add_parser("serve-sources", help="serve export folders through the HTTP API contract")
    sp.add_argument("--root", required=True)
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8080)
    sp.add_argument("--fault-rate", type=float, default=0.0)
    sp.set_defaults(func=cmd_serve_sources)

    for name, func, text in (("db-url", cmd_db_url, "print the warehouse URL in use"),
                             ("db-status", cmd_db_status, "is the embedded PostgreSQL running?"),
                             ("db-stop", cmd_db_stop, "stop the embedded PostgreSQL"),
                             ("summary", cmd_summary, "what the latest publication says")):
        sub.add_parser(name, help=text).set_defaults(func=func)
    sp = sub.add_parser("readers", help="BI logins: read-only access to the published schema kpi")
    rsub = sp.add_subparsers(dest="readers_command", required=True)
    ap = rsub.add_parser("add", help="create a login (or rotate its password); prints how to connect")
    ap.add_argument("name")
    scope = ap.add_mutually_exclusive_group()
    scope.add_argument("--unit", help="see only this unit (kpi.units.unit_id) and the units under it, in every "
                                      "kpi table with a unit_id (default for a new login: every unit; an existing "
                                      "login keeps its scope)")
    scope.add_argument("--all-units", action="store_true", help="see every unit (removes a --unit scope)")
    rsub.add_parser("list", help="the BI logins")
    rsub.add_parser("remove", help="drop a BI login").add_argument("name")
    sp.set_defaults(func=cmd_readers)

    sp = sub.add_parser("docs", help="dbt docs of the warehouse in use (dbt docs generate): write, or serve")
    sp.add_argument("--out", help="folder to write into (default $CCHC_HOME/docs/dbt)")
    sp.add_argument("--serve", action="store_true", help="then serve them on 127.0.0.1 until Ctrl-C")
    sp.add_argument("--port", type=int, default=8081, help="port of --serve (default 8081)")
    sp.set_defaults(func=cmd_docs)

    sub.add_parser("publications", help="every publication: current, completeness, kept tables"
                   ).set_defaults(func=cmd_publications)
    sp = sub.add_parser("rollback", help="make an earlier kept publication current again")
    sp.add_argument("--to", type=int, help="publication id (default: the kept one before the current)")
    sp.add_argument("--reason", help="why (recorded in ops.publication_events)")
    sp.set_defaults(func=cmd_rollback)

    sp = sub.add_parser("batches", help="the batch ledger: every delivery, its disposition and why; "
                                        "accept or reject a held, stale or blocked batch")
    sp.add_argument("action", nargs="?", choices=["list", "accept", "reject"], default="list")
    sp.add_argument("batch_id", nargs="?", type=int)
    sp.add_argument("--reason", help="why (required for accept and reject; kept with the decision)")
    sp.add_argument("--review", action="store_true", help="only batches that await an operator")
    sp.add_argument("--system")
    sp.add_argument("--feed")
    sp.add_argument("--day", type=_date)
    sp.add_argument("--disposition", action="append", help="filter (repeatable)")
    sp.add_argument("--limit", type=int, default=200)
    sp.set_defaults(func=cmd_batches)

    sub.add_parser("rebuild", help="rebuild the state and the warehouse from every batch in force, "
                                   "audit and publish (no landing)").set_defaults(func=cmd_rebuild)

    sp = sub.add_parser("api", help="serve the KPI API (read-only over kpi; README, KPI API)")
    sp.add_argument("--host", help="listen address (default CCHC_API_HOST or 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port (default CCHC_API_PORT or 8000)")
    sp.set_defaults(func=cmd_api)
    sp = sub.add_parser("api-tokens", help="bearer tokens of the KPI API, scoped to a unit and the units under it")
    tsub = sp.add_subparsers(dest="tokens_command", required=True)
    issue = tsub.add_parser("issue", help="a new token (shown once; stored as its SHA-256)")
    issue.add_argument("--unit", help="the unit id whose subtree the token sees")
    issue.add_argument("--province", action="store_true", help="the whole province")
    issue.add_argument("--label", required=True, help="who uses it (kept with the token)")
    tsub.add_parser("list", help="every token: id, unit, active or revoked, label")
    tsub.add_parser("revoke", help="revoke a token at once").add_argument("token_id")
    sp.set_defaults(func=cmd_api_tokens)

    from cchc.reports.commands import add_parsers as add_report_parsers

    add_report_parsers(sub, _date)  # cchc export, cchc bulletin
    sp = sub.add_parser("airflow", help="the Airflow CLI with this project's configuration")
    sp.add_argument("airflow_args", nargs=argparse.REMAINDER)
    sp.set_defaults(func=cmd_airflow)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for the user, details with -v
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
