"""`wren acp`: serve the Agent Client Protocol on stdio until the editor closes stdin."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from acp.agent.connection import AgentSideConnection

from wren.core.errors import ExitCode
from wren.protocol.agent import WrenAgent
from wren.protocol.factory import ServeOptions
from wren.protocol.framing import DRAIN_S, GuardedTransport, Stdio, claim_stdio


async def serve(stdio: Stdio, options: ServeOptions) -> None:
    agent = WrenAgent(options)
    # stdin closed: the editor is gone or has said all it will. Running turns are cancelled
    # (nothing can approve or cancel them any more); requests in flight still get their answer.
    transport = GuardedTransport(stdio, on_sent=agent.message_sent, on_eof=agent.cancel_all, drain_s=DRAIN_S)
    # session/close is still marked unstable in the SDK; editors use it to end sessions (and their MCP servers).
    # WrenAgent lacks the SDK Agent's optional methods (authenticate, list/fork/resume sessions, ext_*): the
    # SDK looks methods up by name and answers "method not found" for those, as it should.
    conn = AgentSideConnection(agent, transport, listening=False,  # type: ignore[arg-type]
                               use_unstable_protocol=True)
    try:
        await conn.listen()
    finally:
        await agent.shutdown()
        await conn.close()


def run(args: argparse.Namespace) -> int:
    level = os.environ.get("WREN_LOG", "WARNING").upper()
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.WARNING),
                        format="wren acp: %(levelname)s %(name)s: %(message)s")
    stdio = claim_stdio()
    options = ServeOptions(model=args.model, api_base=args.api_base, approval=args.approval)
    try:
        asyncio.run(serve(stdio, options))
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return ExitCode.FINISHED
