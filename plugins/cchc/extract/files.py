"""Export-file deliveries: ``{root}/{system}/{YYYY-MM-DD}/{feed}.jsonl.gz`` plus ``_manifest.json``.

A day folder is complete only when its ``_manifest.json`` exists; each file is accepted only when
its sha256 (over the .gz bytes) and its line count agree with the manifest. Anything else raises
:class:`DeliveryRefused` with a message that names the folder or file and says what was expected;
a feed that neither the manifest nor the folder knows raises its subclass :class:`FeedAbsent`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import zlib
from pathlib import Path

from cchc.extract.base import (
    Delivery,
    DeliveryRefused,
    FeedAbsent,
    Refusal,
    SourceBase,
    as_day,
    as_feed,
    parse_generated_at,
)
from cchc.raw.schema import Feed

MANIFEST = "_manifest.json"


def split_lines(data: bytes) -> list[bytes]:
    """Lines of a JSON-lines document: split on LF, a final newline ends the last line."""
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


class FileSource(SourceBase):
    mode = "file"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FileSource({str(self.root)!r})"

    def provides(self, system: str) -> bool:
        """A root without a ``{system}`` folder does not deliver that system (e.g. a province that
        exports its one-stop system only); a missing *day* folder of a delivered system is an
        incomplete delivery and is refused."""
        return (self.root / system).is_dir()

    def not_delivered(self, day: dt.date | str) -> str | None:
        """None when every delivered system (a ``{system}`` folder under the root, see
        :meth:`provides`) has ``{system}/{day}/_manifest.json``; else which folders are missing or
        incomplete. The files themselves are checked against the manifest when they are landed."""
        from cchc.raw.schema import FEEDS

        day = as_day(day)
        systems = [s for s in sorted({f.system for f in FEEDS}) if self.provides(s)]
        if not systems:
            return f"{self.root} has no export folder of any system ({', '.join(sorted({f.system for f in FEEDS}))})"
        waiting = []
        for system in systems:
            folder = self.day_dir(system, day)
            if not folder.is_dir():
                waiting.append(f"no folder {folder}")
            elif not (folder / MANIFEST).is_file():
                waiting.append(f"{folder} has no {MANIFEST} yet")
        if waiting:
            return f"the export of {day.isoformat()} is not complete: " + "; ".join(waiting)
        return None

    def day_dir(self, system: str, day: dt.date) -> Path:
        return self.root / system / day.isoformat()

    def manifest(self, system: str, day: dt.date | str) -> dict:
        """The parsed manifest of a day folder; refuses an incomplete day."""
        day = as_day(day)
        folder = self.day_dir(system, day)

        def refuse(reason: str, absent: bool = False):
            return (FeedAbsent if absent else DeliveryRefused)(
                reason, [Refusal(system, "*", day, reason, uri=str(folder))])

        if not folder.is_dir():
            raise refuse(f"no export folder {folder}: the {system} export of {day} has not been delivered", True)
        path = folder / MANIFEST
        if not path.is_file():
            raise refuse(f"export folder {folder} has no {MANIFEST}: the day is not complete and is not loaded", True)
        try:
            manifest = json.loads(path.read_bytes())
            files = manifest["files"]
            if not isinstance(files, dict):
                raise TypeError("'files' is not an object")
            manifest["generated_at"] = parse_generated_at(manifest.get("generated_at"), str(path))
        except (ValueError, KeyError, TypeError) as exc:
            raise refuse(f"{path} is not a valid manifest ({exc}); the day is not loaded") from None
        return manifest

    def fetch(self, feed: Feed | str, day: dt.date | str) -> Delivery:
        feed, day = as_feed(feed), as_day(day)
        folder = self.day_dir(feed.system, day)
        path = folder / feed.file_name

        def refuse(reason: str, sha: str | None = None, lines: int = 0, absent: bool = False):
            r = Refusal(feed.system, feed.name, day, reason, uri=str(path), content_sha256=sha, lines_read=lines)
            return (FeedAbsent if absent else DeliveryRefused)(str(r), [r])

        try:
            manifest = self.manifest(feed.system, day)
        except FeedAbsent as exc:  # no day folder or no manifest: nothing of the day is there
            raise refuse(str(exc), absent=True) from None
        except DeliveryRefused as exc:
            raise refuse(str(exc)) from None
        entry = manifest["files"].get(feed.file_name)
        if entry is None:
            if path.exists():
                raise refuse(f"{path} is not listed in {folder / MANIFEST}; it is not loaded")
            raise refuse(f"{feed.file_name} is missing from {folder} and from its manifest", absent=True)
        if not path.is_file():
            raise refuse(f"{path} is listed in the manifest but absent from the folder")
        try:
            expected_lines, expected_sha = int(entry["lines"]), str(entry["sha256"]).lower()
        except (KeyError, TypeError, ValueError):
            raise refuse(f"manifest entry for {feed.file_name} lacks a valid 'lines' or 'sha256': {entry!r}") from None

        raw = path.read_bytes()
        sha = hashlib.sha256(raw).hexdigest()
        try:
            lines = split_lines(gzip.decompress(raw))
        except (OSError, EOFError, zlib.error) as exc:
            problems = [f"cannot be decompressed ({exc})"]
            if sha != expected_sha:
                problems.append(f"sha256 expected {expected_sha}, actual {sha}")
            raise refuse(f"{path} " + "; ".join(problems), sha) from None
        problems = []
        if len(lines) != expected_lines:
            problems.append(f"line count expected {expected_lines} (manifest), actual {len(lines)}")
        if sha != expected_sha:
            problems.append(f"sha256 expected {expected_sha} (manifest), actual {sha}")
        if problems:
            raise refuse(f"{path} disagrees with its manifest: " + "; ".join(problems) + "; file not loaded",
                         sha, len(lines))
        return Delivery(feed, day, str(path), sha, "file", lines=lines, generated_at=manifest["generated_at"])
