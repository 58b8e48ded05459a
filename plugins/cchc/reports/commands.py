"""The ``cchc export`` and ``cchc bulletin`` commands (registered by :func:`add_parsers` from
``cchc.cli``), and the bulletin written at the end of a successful ``cchc run`` / ``make run``.

    cchc export report|late-units|esignature --period-type month --period 2025-06-01
                [--unit U] [--by-field] --format xlsx|csv --out FILE
    cchc bulletin [--out DIR] [--pdf | --no-pdf]
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger("cchc")


def cmd_export(args) -> int:
    from cchc.reports.exports import ReportError, export
    from cchc.warehouse import connect

    out = Path(args.out)
    if out.is_dir():
        print(f"error: --out {out} is a folder: give a file name, e.g. {out / ('report.' + args.format)}",
              file=sys.stderr)
        return 2
    if not out.parent.exists():
        print(f"error: --out {out}: the folder {out.parent} does not exist", file=sys.stderr)
        return 2
    try:
        with connect() as conn:
            data = export(conn, args.what, args.format, args.period_type, args.period, unit_id=args.unit,
                          by_field=args.by_field)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"wrote {out} ({len(data):,} bytes): {args.what} {args.period_type} {args.period}"
          + (f", unit {args.unit}" if args.unit else "") + (", by field" if args.by_field else ""))
    return 0


def cmd_bulletin(args) -> int:
    from cchc.reports.bulletin import write_bulletin
    from cchc.reports.exports import ReportError
    from cchc.settings import bulletin_dir
    from cchc.warehouse import connect

    try:
        with connect() as conn:
            files = write_bulletin(conn, Path(args.out) if args.out else bulletin_dir(), pdf=args.pdf)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"bulletin of publication {files.publication_id}: {files.html}")
    if files.pdf:
        print(f"  PDF: {files.pdf}")
    elif files.pdf_skipped:
        print(f"  no PDF: {files.pdf_skipped}")
    return 0


def write_after_run(*, pdf: bool = False) -> Path | None:
    """The bulletin of the current publication, written by the publish step of every run that
    published (:func:`cchc.pipeline.publish_run`, also under the scheduler) into ``bulletin_dir()``:
    the HTML (a few milliseconds); with ``pdf`` (``cchc demo``, i.e. ``make run``) its PDF too,
    when Chromium is installed. A failure is logged, never raised: the
    publication stands without it."""
    from cchc.reports.bulletin import write_bulletin
    from cchc.settings import bulletin_dir
    from cchc.warehouse import connect

    try:
        with connect() as conn:
            return write_bulletin(conn, bulletin_dir(), pdf=None if pdf else False).html
    except Exception as exc:  # noqa: BLE001 - the run succeeded; the bulletin is a by-product
        log.warning("the bulletin was not written: %s", exc)
        return None


def add_parsers(sub, date_type) -> None:
    """Add ``export`` and ``bulletin`` to the ``cchc`` parser's subcommands."""
    from cchc.reports.layouts import FORMATS, LAYOUTS, PERIOD_TYPE_VI

    sp = sub.add_parser("export", help="an official report file of the current publication (XLSX or CSV)")
    sp.add_argument("what", choices=list(LAYOUTS), help="report: Mẫu 06 (kpi.tthc_report); late-units: "
                    "kpi.late_accountability's criticism and discipline; esignature: kpi.esignature_usage")
    sp.add_argument("--period-type", required=True, choices=list(PERIOD_TYPE_VI))
    sp.add_argument("--period", required=True, type=date_type, help="first day of the period (YYYY-MM-DD)")
    sp.add_argument("--unit", help="that unit's rows only (its unit id)")
    sp.add_argument("--by-field", action="store_true", help="report only: a row per unit and field")
    sp.add_argument("--format", required=True, choices=list(FORMATS))
    sp.add_argument("--out", required=True, help="the file to write")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("bulletin", help="the bulletin of the current publication: HTML with charts (and PDF)")
    sp.add_argument("--out", help="folder (default $CCHC_HOME/bulletin, CCHC_BULLETIN_DIR)")
    pdf = sp.add_mutually_exclusive_group()
    pdf.add_argument("--pdf", dest="pdf", action="store_true", default=None,
                     help="require the PDF (default: made when Chromium is installed)")
    pdf.add_argument("--no-pdf", dest="pdf", action="store_false")
    sp.set_defaults(func=cmd_bulletin)


__all__ = ["add_parsers", "write_after_run", "cmd_export", "cmd_bulletin"]
