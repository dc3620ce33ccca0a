"""The local stack's embedded AWS: moto's server, with the local stack's patches, in a process of its own.

``LocalStack`` starts it with ``python -m socialcrm.local.aws_server --host 127.0.0.1`` and reads the
one line it prints, ``listening on http://HOST:PORT``. It serves until its standard input closes, so it
never outlives the stack that started it, even when that stack is killed. It runs in a session of its
own, so a Ctrl-C at the terminal reaches only the stack, which then stops it.

A process of its own, because the embedded AWS and the functions calling it are both Python: in one
process they take turns on one interpreter lock, and the pipeline ran at the speed of one core.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading


def serve(host: str, port: int) -> None:
    from moto.server import ThreadedMotoServer

    from socialcrm.local.moto_patches import honour_replay_windows, speed_up_transactions
    from socialcrm.local.moto_speedups import speed_up_events_and_queues
    from socialcrm.local.moto_tables import speed_up_and_serialise_tables

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per AWS request
    speed_up_transactions()
    honour_replay_windows()
    speed_up_events_and_queues()
    speed_up_and_serialise_tables()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    print(f"listening on http://{bound_host}:{bound_port}", flush=True)
    # Nobody reads this process's output after that line: anything moto prints goes nowhere, rather than
    # filling the pipe and stopping the server.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    closed = threading.Event()

    def watch_stdin() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        closed.set()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    closed.wait()
    server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
