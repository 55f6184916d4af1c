#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sockctl contributors
# MIT or Apache-2.0, at your option (see the LICENSE files of the sockctl project).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: haproxy_server
short_description: Drain, make ready, put in maintenance or weigh an HAProxy server by name
description:
  - Sets a server's admin state (V(drain), V(ready), V(maint)) and/or its weight through
    C(sockctl haproxy drain|ready|maint|weight) on the managed host, in every backend that has a
    server of that name (or in one O(backend)), on each socket given (or the one sockctl
    discovers).
  - Optionally waits until it is done (no session left after a drain or maintenance; up per its
    health check after ready, at once when it has no check), with a timeout; then maintenance;
    then shuts down the sessions left.
  - Idempotent, C(changed) only when a server's admin state or weight changed, as read from
    HAProxy before and after. A server already in the state is not changed, and a wait for it is
    done at once when it has no session (also when it is DOWN, has no health check, or is a backup).
  - Check mode reads each server's state and reports what would change (C(--dry-run)); nothing is
    sent to HAProxy but reads. With C(--diff), the admin state and weight before and after per
    server.
version_added: "0.1.0"
author:
  - sockctl contributors
options:
  name:
    description:
      - The server's name; V(NAME) acts on every backend that has a server of that name,
        V(BACKEND/NAME) on one.
    type: str
    required: true
  backend:
    description:
      - Only this backend (the same as O(name=BACKEND/NAME)).
    type: str
  state:
    description:
      - The admin state to set.
      - At least one of O(state) and O(weight) is required; with both, the state is set first.
    type: str
    choices: [drain, ready, maint]
  weight:
    description:
      - The weight to set (0 to 256).
    type: int
  sockets:
    description:
      - HAProxy stats sockets or master sockets (on a master the current worker acts), as
        sockctl takes addresses (V(/run/haproxy/admin.sock), V(ipv4@127.0.0.1:9999), V(abns@name)).
      - When empty, sockctl finds the socket from O(config) or the running master.
    type: list
    elements: str
    default: []
  worker:
    description:
      - On a master socket, which worker acts, V(current) (the default), a worker's PID, or V(all).
    type: str
  wait:
    description:
      - Wait until it is done. After V(drain) or V(maint), until no session is left on the server
        and nothing is queued for it; after V(ready), until its health check says it is up.
      - Not done in check mode.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long to wait (V(30s), V(5m)); at the timeout the task fails naming what is left.
    type: str
    default: 5m
  then_maint:
    description:
      - After a drain whose wait completed, put the server in maintenance. Needs O(wait) and
        O(state=drain).
    type: bool
    default: false
  shutdown_sessions:
    description:
      - After the wait (done or timed out), shut down the sessions still on the server. Needs
        O(wait).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sockctl.haproxy.sockctl
  - sockctl.haproxy.sockctl.haproxy
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Take web1 out of every backend, waiting for its sessions to end
  sockctl.haproxy.haproxy_server:
    name: web1
    state: drain
    wait: true
    wait_timeout: 2m
    sockets:
      - /run/haproxy/admin.sock

- name: Put it back once it is healthy
  sockctl.haproxy.haproxy_server:
    name: web1
    state: ready
    wait: true
    wait_timeout: 1m

- name: Half the traffic to be_app/web2, through the master socket
  sockctl.haproxy.haproxy_server:
    name: be_app/web2
    weight: 50
    sockets: [/run/haproxy-master.sock]

- name: Drain, wait, then maintenance, with a binary outside the PATH
  sockctl.haproxy.haproxy_server:
    name: web1
    state: drain
    wait: true
    then_maint: true
    sockctl_path: /opt/sockctl/bin/sockctl
"""

RETURN = r"""
changed:
  description: Whether any server's admin state or weight changed (in check mode, would change).
  returned: always
  type: bool
servers:
  description:
    - One record per socket, action and server, as C(sockctl haproxy ACTION --json) gives it,
      with the socket and action added.
  returned: always
  type: list
  elements: dict
  contains:
    socket:
      description: The socket's address.
      type: str
      sample: /run/haproxy/admin.sock
    action:
      description: V(drain), V(ready), V(maint) or V(weight).
      type: str
    target:
      description: V(socket) (a stats socket's process) or V(worker) (through a master).
      type: str
    pid:
      description: The worker's PID through a master, else null.
      type: int
    backend:
      description: The backend.
      type: str
      sample: be_app
    server:
      description: The server's name.
      type: str
      sample: web1
    before:
      description:
        - The state read before, C(admin_state) (V(ready), V(drain), V(maint)), C(admin_flags),
          C(op_state), C(status) (as C(show stat) says it, V(UP), V(DOWN), V(DRAIN), V(no check)...),
          C(weight), C(sessions), C(queued).
      type: dict
    after:
      description: The state read after everything ran (in check mode, the state it would have).
      type: dict
    changed:
      description: Whether this server's admin state or weight changed.
      type: bool
    verdict:
      description: V(done), V(timeout) (the wait ended before this server got there), V(dry-run).
      type: str
    left:
      description: At a timeout, the C(sessions), C(queued) and C(status) the server still had.
      type: dict
sockets:
  description: Each socket's sockctl exit code and messages, per action.
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"drain": {"code": 0, "errors": []}}}
diff:
  description: With C(--diff), the admin state, flags and weight of each server before and after.
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sockctl.haproxy.plugins.module_utils.sockctl import (
    Sockctl,
    common_argument_spec,
    failure_message,
    stderr_lines,
)

# What the diff shows: the part of the state an operator sets.
MANAGED = ("admin_state", "admin_flags", "weight")


def operate(sockctl, params, action, check_mode):
    """Runs one action; returns (rc, {address: entry}, stderr)."""
    server = params["name"]
    if params["backend"]:
        server = "%s/%s" % (params["backend"], server)
    args = ["haproxy", action, server]
    if action == "weight":
        args.append(str(params["weight"]))
    else:
        if params["wait"] and not check_mode:
            args += ["--wait", "--wait-timeout", params["wait_timeout"]]
            if params["then_maint"]:
                args += ["--then", "maint"]
            if params["shutdown_sessions"]:
                args.append("--shutdown-sessions")
        elif params["then_maint"] and check_mode:
            # The dry run predicts the maintenance that would follow a completed drain.
            args += ["--wait", "--then", "maint"]
    if params["worker"]:
        args += ["--worker", params["worker"]]
    for socket in params["sockets"]:
        args += ["-s", socket]
    if params["config"]:
        args += ["--config", params["config"]]
    args += sockctl.timeout_args()
    if check_mode:
        args.append("--dry-run")
    args.append("--json")
    return sockctl.json(args)


def key(record):
    where = record["socket"]
    if record.get("pid"):
        where = "%s (worker %s)" % (where, record["pid"])
    return "%s %s/%s" % (where, record["backend"], record["server"])


def managed(state):
    return dict((k, state.get(k)) for k in MANAGED) if state else None


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        backend=dict(type="str"),
        state=dict(type="str", choices=["drain", "ready", "maint"]),
        weight=dict(type="int"),
        sockets=dict(type="list", elements="str", default=[]),
        config=dict(type="path"),
        worker=dict(type="str"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="str", default="5m"),
        then_maint=dict(type="bool", default=False),
        shutdown_sessions=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[("state", "weight")],
        required_if=[("then_maint", True, ("wait",)), ("shutdown_sessions", True, ("wait",))],
        supports_check_mode=True,
    )
    params = module.params
    if params["backend"] and "/" in params["name"]:
        module.fail_json(msg="give the backend either in name (BACKEND/NAME) or as backend, not both")
    if params["then_maint"] and params["state"] != "drain":
        module.fail_json(msg="then_maint follows a drain only (state: drain)")
    if params["weight"] is not None and not 0 <= params["weight"] <= 256:
        module.fail_json(msg="weight must be from 0 to 256, not %d" % params["weight"])

    sockctl = Sockctl(module)
    actions = []
    if params["state"]:
        actions.append(params["state"])
    if params["weight"] is not None:
        actions.append("weight")

    records, sockets, failures = [], {}, []
    changed = False
    for action in actions:
        rc, doc, err = operate(sockctl, params, action, module.check_mode)
        if doc is None:
            failures.append(failure_message("%s %s" % (action, params["name"]), rc, stderr_lines(err)))
            break
        for address, entry in doc.items():
            sockets.setdefault(address, {})[action] = dict(
                code=entry["code"], errors=entry["errors"]
            )
            result = entry.get("result") or {}
            changed = changed or bool(result.get("changed"))
            for record in result.get("servers", []):
                record = dict(record, socket=address, action=action)
                records.append(record)
            if entry["code"] != 0:
                failures.append(
                    failure_message("%s %s on %s" % (action, params["name"], address),
                                    entry["code"], entry["errors"])
                )
        if failures:
            # A state that did not get there: the weight is not set on top of it.
            break

    output = dict(changed=changed, servers=records, sockets=sockets)
    if module._diff:
        before, after = {}, {}
        for record in records:
            k = key(record)
            if k not in before and record.get("before"):
                before[k] = managed(record["before"])
            view = managed(record.get("after"))
            if view is None:
                continue
            merged = after.setdefault(k, dict(view))
            if record["action"] == "weight":
                merged["weight"] = view["weight"]
            else:
                merged["admin_state"] = view["admin_state"]
                merged["admin_flags"] = view["admin_flags"]
        output["diff"] = dict(before=before, after=after)
    if failures:
        module.fail_json(msg="; ".join(failures), **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
