#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sockctl contributors
# MIT or Apache-2.0, at your option (see the LICENSE files of the sockctl project).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: haproxy_reload
short_description: Reload HAProxy through its master socket, verified
description:
  - Runs C(sockctl haproxy reload --json) on the managed host. sockctl first checks the
    configuration with the running master's own binary (C(haproxy -c)), optionally saves the
    server state where the configuration loads it (O(save_state)), asks the master to reload, and
    verifies the outcome (HAProxy 2.7+ C(Success=) reply and startup log; on 2.6 the reload and
    failure counters of C(show proc)).
  - C(changed) only when a reload happened and the new worker serves. A configuration that does
    not load fails the task with HAProxy's own lines, and nothing is reloaded.
  - Check mode runs the configuration check only (C(reload --check-only)) and reports that a
    reload would happen; a configuration that does not load fails it, and so does one that
    cannot be checked from here (a master in another PID namespace), never reported as passed.
version_added: "0.1.0"
author:
  - sockctl contributors
options:
  socket:
    description:
      - The master socket (C(haproxy -S)). When omitted, sockctl finds the running master's.
    type: str
  save_state:
    description:
      - Save the server state (drain, maintenance, weights set at runtime) to the file the
        configuration loads at start, before the reload; a failed save means no reload.
    type: bool
    default: false
  state_file:
    description:
      - The state file for O(save_state) (by default the configured one).
    type: path
  force:
    description:
      - Reload even if the state could not be saved, or into a O(state_file) the configuration
        will not load.
    type: bool
    default: false
  check:
    description:
      - Check the configuration with the running master's binary before asking it to reload.
        V(false) skips the check (not in check mode, which is the check).
    type: bool
    default: true
  reload_timeout:
    description:
      - How long to wait for the outcome of the reload (V(5m) by default, as sockctl's).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sockctl.haproxy.sockctl
  - sockctl.haproxy.sockctl.haproxy
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: Runs the configuration check only.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Reload, keeping the state set at runtime
  sockctl.haproxy.haproxy_reload:
    socket: /run/haproxy-master.sock
    save_state: true

- name: Only reload as a handler, after the configuration changed
  sockctl.haproxy.haproxy_reload:
    config: /etc/haproxy/haproxy.cfg
  listen: reload haproxy
"""

RETURN = r"""
changed:
  description: Whether a reload happened (in check mode, would happen).
  returned: always
  type: bool
status:
  description:
    - V(reloaded); V(check_ok) in check mode; on failure V(check_failed) (the configuration does
      not load, no reload asked) or V(failed) (the master rejected it; the old worker still serves).
  returned: when sockctl printed its JSON
  type: str
reload:
  description: The document C(sockctl haproxy reload --json) printed (see sockctl's docs/json.md).
  returned: when sockctl printed its JSON
  type: dict
old_worker:
  description: The PID of the worker that served before.
  returned: when reloaded
  type: int
new_worker:
  description: The PID of the worker that serves now.
  returned: when reloaded
  type: int
haproxy_lines:
  description: HAProxy's own lines on a rejected configuration (C(haproxy -c), or its startup log).
  returned: on failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sockctl.haproxy.plugins.module_utils.sockctl import (
    Sockctl,
    common_argument_spec,
    failure_message,
    stderr_lines,
)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        socket=dict(type="str"),
        config=dict(type="path"),
        save_state=dict(type="bool", default=False),
        state_file=dict(type="path"),
        force=dict(type="bool", default=False),
        check=dict(type="bool", default=True),
        reload_timeout=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    sockctl = Sockctl(module)

    args = ["haproxy", "reload", "--json"]
    if params["socket"]:
        args += ["-s", params["socket"]]
    if params["config"]:
        args += ["--config", params["config"]]
    if params["reload_timeout"]:
        args += ["--timeout", params["reload_timeout"]]
    if module.check_mode:
        args.append("--check-only")
    else:
        if params["save_state"]:
            args.append("--save-state")
            if params["state_file"]:
                args += ["--state-file", params["state_file"]]
            if params["force"]:
                args.append("--force")
        if not params["check"]:
            args.append("--no-check")

    rc, doc, err = sockctl.json(args)
    errors = stderr_lines(err)
    output = dict(changed=False, stderr_lines=errors)
    if doc is not None:
        output.update(reload=doc, status=doc.get("status"))
    status = (doc or {}).get("status")

    if rc == 0 and status == "check_ok":
        output.update(changed=True, msg="the configuration loads: a reload would be asked")
        module.exit_json(**output)
    if rc == 0 and status == "reloaded":
        output.update(changed=True, old_worker=doc.get("old_worker"), new_worker=doc.get("new_worker"))
        module.exit_json(**output)
    if status == "check_failed":
        lines = [line for line in (doc.get("check") or "").splitlines() if line.strip()]
        module.fail_json(
            msg="the configuration does not load; nothing was reloaded: %s" % " | ".join(lines),
            haproxy_lines=lines,
            rc=rc,
            **output
        )
    if status == "failed":
        logs = doc.get("logs")
        lines = [line for line in (logs or "").splitlines() if line.strip()]
        if not lines:
            # 2.6 gives no startup log over the master CLI: sockctl's messages say what it knows.
            lines = [e[len("haproxy -c: "):] for e in errors if e.startswith("haproxy -c: ")]
        module.fail_json(
            msg="HAProxy rejected the new configuration; worker %s still serves%s"
            % (doc.get("new_worker"), (": " + " | ".join(lines)) if lines else ""),
            haproxy_lines=lines,
            rc=rc,
            **output
        )
    module.fail_json(msg=failure_message("reload", rc, errors), rc=rc, **output)


if __name__ == "__main__":
    main()
