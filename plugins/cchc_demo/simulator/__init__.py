"""Source simulator: the demo province's one-stop, e-document and reference systems.

It writes the export folders of the source contracts (shared/spec/sources.md) from generated data
and serves them through the contract's HTTP API::

    from cchc_demo.simulator import generate, SimulatorConfig, serve, break_manifest
    summary = generate(Path("out"), SimulatorConfig(start=date(2025, 5, 1), end=date(2025, 6, 30)))
    server = serve(Path("out"), port=0)      # server.url, server.port, server.shutdown()
    break_manifest(Path("out"), "onestop", date(2025, 5, 2), "checksum")

Modules: :mod:`~cchc_demo.simulator.config` (settings, feeds), :mod:`~cchc_demo.simulator.province` (units,
procedures, offices), :mod:`~cchc_demo.simulator.people` (fake applicants, officials),
:mod:`~cchc_demo.simulator.clock` (timestamps, office hours, due dates), :mod:`~cchc_demo.simulator.rand`
(seeded streams), :mod:`~cchc_demo.simulator.timeline` (daily snapshots), :mod:`~cchc_demo.simulator.dossiers`,
:mod:`~cchc_demo.simulator.documents`, :mod:`~cchc_demo.simulator.corrupt` (bad lines),
:mod:`~cchc_demo.simulator.export` (folders, manifests) and :mod:`~cchc_demo.simulator.server` (HTTP API;
``python -m cchc_demo.simulator.server``).
"""

from __future__ import annotations

from pathlib import Path

from cchc_demo.simulator.config import SimulatorConfig
from cchc_demo.simulator.export import break_manifest, generate

__all__ = ["SimulatorConfig", "break_manifest", "generate", "serve"]


def serve(root: Path, host: str = "127.0.0.1", port: int = 0, token: str = "demo-token", fault_rate: float = 0.0,
          seed: int = 1):
    """Serve an export root over HTTP in a daemon thread; see :func:`cchc_demo.simulator.server.serve`.

    Imported lazily so that ``python -m cchc_demo.simulator.server`` runs the module only once.
    """
    from cchc_demo.simulator.server import serve as _serve

    return _serve(root, host=host, port=port, token=token, fault_rate=fault_rate, seed=seed)
