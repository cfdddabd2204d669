"""`python -m odoo_operator.sandbox.podsim`: the node agent process (started by `PodSimulator`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from odoo_operator.runtime.logs import configure_logging
from odoo_operator.sandbox.podsim.agent import AgentConfig, NodeAgent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odoo_operator.sandbox.podsim")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--node-name", required=True)
    parser.add_argument("--port", type=int, required=True, help="kubelet endpoint port")
    parser.add_argument("--operator-image", required=True)
    parser.add_argument("--tls-cert", type=Path, required=True)
    parser.add_argument("--tls-key", type=Path, required=True)
    parser.add_argument("--client-ca", type=Path, required=True)
    options = parser.parse_args(argv)
    configure_logging("text", "info")
    agent = NodeAgent(AgentConfig(**vars(options)))
    asyncio.run(agent.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
