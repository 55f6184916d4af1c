#!/usr/bin/env python3
"""Drain a server, then reload HAProxy keeping that change, from Python through sockctl.

    python3 haproxy_reload.py --socket /run/haproxy-master.sock --server be_app/s1

sockctl does the socket work (half-close, whole replies, timeouts, atomic state file, reload
verification); Python reads its JSON and its exit code.
"""

import argparse
import json
import subprocess
import sys


def sockctl(*args):
    """Runs sockctl and returns its parsed JSON; raises CalledProcessError on failure."""
    result = subprocess.run(
        ["sockctl", *args], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", default="/run/haproxy-master.sock")
    parser.add_argument("--config", default="/etc/haproxy/haproxy.cfg")
    parser.add_argument("--server", default="be_app/s1", help="BACKEND/SERVER to drain")
    args = parser.parse_args()
    backend, server = args.server.split("/", 1)

    # exit 1 (and a CalledProcessError) if HAProxy says the server does not exist.
    sockctl("haproxy", "exec", "--json", "-s", args.socket,
            f"set server {backend}/{server} state drain")

    try:
        reload = sockctl("haproxy", "reload", "--save-state", "--json",
                         "-s", args.socket, "--config", args.config)
    except subprocess.CalledProcessError as e:
        # 1: configuration rejected (the old worker still serves), 4: no outcome in time, ...
        print(f"reload failed (exit {e.returncode}): {e.stderr.strip()}", file=sys.stderr)
        return e.returncode
    print(f"reloaded: worker {reload['old_worker']} -> {reload['new_worker']} "
          f"in {reload['elapsed_ms']:.0f} ms; {reload['state']['servers']} servers saved")

    state = sockctl("haproxy", "servers", "--json", "-s", args.socket, "--backend", backend)
    for s in state["servers"]:
        print(f"{s['backend']}/{s['name']}: {s['admin_state_name']}, weight {s['weight']}")
    drained = any(s["name"] == server and s["admin_state_name"] == "drain"
                  for s in state["servers"])
    return 0 if drained else 1


if __name__ == "__main__":
    sys.exit(main())
