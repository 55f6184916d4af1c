#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sockctl contributors
# MIT or Apache-2.0, at your option (see the LICENSE files of the sockctl project).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: admin_socket
short_description: Send commands to a service's administrative socket and judge the replies
description:
  - Runs C(sockctl send --json) on the managed host, one command after another, with a service
    profile (O(proto)) that knows what ends each reply, what to read or say first, and when the
    server said no (HAProxy, BIRD, tor, OpenVPN, memcached, unbound, Kea, Redis, collectd,
    Dovecot, uWSGI; see sockctl's docs/services.md), or a line protocol described by options.
  - The task fails when sockctl's exit code says so (1 the service said the command failed, 3
    cannot connect, 4 a reply whose end never came, 5 a cut reply), with the service's message.
  - A generic exchange cannot tell whether a command changed something; O(read_only) says so.
version_added: "0.1.0"
author:
  - sockctl contributors
options:
  socket:
    description:
      - The socket's address, as sockctl takes it (V(/run/bird/bird.ctl), V(127.0.0.1:6379),
        V(abns@name)).
    type: str
    required: true
  commands:
    description:
      - The commands, sent in order, each its own exchange. The first that fails stops the rest
        unless O(keep_going).
    type: list
    elements: str
    required: true
  proto:
    description:
      - The service's profile (V(haproxy), V(bird), V(tor), V(openvpn), V(memcached),
        V(unbound), V(kea), V(redis), V(collectd), V(dovecot), V(uwsgi)).
      - V(haproxy) runs each command with C(sockctl haproxy exec --json), which reads HAProxy's
        verdict (an error message such as C(No such server.) or C(Unknown command) fails the task);
        the line options below do not apply to it.
      - Without it, each command is sent, the connection half-closed and the reply read to its
        end, whatever it says (use O(fails_on) to judge the text).
    type: str
  read_only:
    description:
      - The commands only read. Then C(changed) is false and they also run in check mode;
        otherwise C(changed) is true when they all worked, and check mode sends nothing.
    type: bool
    default: false
  keep_going:
    description:
      - Go on with the next command after one failed (the task still fails).
    type: bool
    default: false
  password:
    description:
      - The password (tor, redis, openvpn), given to sockctl in its environment, never on a
        command line.
    type: str
  password_file:
    description:
      - A file on the managed host whose first line is the password.
    type: path
  cookie_file:
    description:
      - tor, authenticate with the control cookie in this file.
    type: path
  ends_with:
    description:
      - A reply ends at the first line matching this regular expression.
    type: str
  greeting:
    description:
      - Read the server's greeting first, up to a line matching this regular expression.
    type: str
  say:
    description:
      - Lines sent first on every connection.
    type: list
    elements: str
  prefix:
    description:
      - Text put in front of every command.
    type: str
  crlf:
    description:
      - End each line with CR LF.
    type: bool
    default: false
  fails_on:
    description:
      - A reply line matching this regular expression makes the command fail.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sockctl.haproxy.sockctl
attributes:
  platform:
    platforms: posix
  check_mode:
    support: partial
    details: Commands run in check mode only when O(read_only=true).
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: BIRD's protocols, whole, judged by BIRD's reply codes
  sockctl.haproxy.admin_socket:
    socket: /run/bird/bird.ctl
    proto: bird
    commands: ["show protocols"]
    read_only: true
  register: bird

- name: Flush memcached
  sockctl.haproxy.admin_socket:
    socket: /run/memcached/memcached.sock
    proto: memcached
    commands: [flush_all]

- name: An HAProxy runtime command, failed if HAProxy says so
  sockctl.haproxy.admin_socket:
    socket: /run/haproxy/admin.sock
    proto: haproxy
    commands: ["set map /etc/haproxy/hosts.map example.org be_new"]
"""

RETURN = r"""
results:
  description: One per command run, in order.
  returned: always
  type: list
  elements: dict
  contains:
    command:
      description: The command.
      type: str
    rc:
      description: sockctl's exit code for it.
      type: int
    reply:
      description: The reply (invalid UTF-8 shown as U+FFFD); null if there was none.
      type: str
    errors:
      description: sockctl's messages, the service's own words among them.
      type: list
      elements: str
replies:
  description: The replies alone, in order.
  returned: always
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


def options(params):
    args = []
    for name, flag in (
        ("proto", "--proto"),
        ("password_file", "--password-file"),
        ("cookie_file", "--cookie-file"),
        ("ends_with", "--ends-with"),
        ("greeting", "--greeting"),
        ("prefix", "--prefix"),
        ("fails_on", "--fails-on"),
    ):
        if params[name] is not None:
            args += [flag, params[name]]
    for line in params["say"] or []:
        args += ["--say", line]
    if params["crlf"]:
        args.append("--crlf")
    return args


def exec_result(command, rc, doc, err):
    """One command's result from `haproxy exec --json` (`{ok, results}`), or from its messages
    when it printed nothing (no connection)."""
    if not doc:
        return dict(command=command, rc=rc, reply=None, errors=stderr_lines(err))
    runs = doc.get("results") or []
    reply = "".join(r.get("output") or "" for r in runs)
    errors = [e.get("message") for r in runs for e in (r.get("errors") or [])]
    return dict(command=command, rc=rc, reply=reply, errors=errors or stderr_lines(err))


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        socket=dict(type="str", required=True),
        commands=dict(type="list", elements="str", required=True),
        proto=dict(type="str"),
        read_only=dict(type="bool", default=False),
        keep_going=dict(type="bool", default=False),
        password=dict(type="str", no_log=True),
        password_file=dict(type="path", no_log=False),
        cookie_file=dict(type="path"),
        ends_with=dict(type="str"),
        greeting=dict(type="str"),
        say=dict(type="list", elements="str"),
        prefix=dict(type="str"),
        crlf=dict(type="bool", default=False),
        fails_on=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("password", "password_file")],
        supports_check_mode=True,
    )
    params = module.params
    if not params["commands"]:
        module.fail_json(msg="commands: give at least one")
    if module.check_mode and not params["read_only"]:
        module.exit_json(
            changed=True,
            results=[],
            replies=[],
            msg="check mode: %d command(s) not sent (read_only is false)" % len(params["commands"]),
        )
    sockctl = Sockctl(module)
    environ = {"SOCKCTL_PASSWORD": params["password"]} if params["password"] else None
    haproxy = params["proto"] == "haproxy"
    if haproxy:
        # HAProxy answers a failed command with text: `haproxy exec` reads its verdict.
        base = ["haproxy", "exec", "--json"] + sockctl.timeout_args() + ["-s", params["socket"]]
    else:
        base = ["send", "--json"] + options(params) + sockctl.timeout_args()
        base += ["-s", params["socket"]]

    results, failures = [], []
    for command in params["commands"]:
        rc, doc, err = sockctl.json(base + [command], environ_update=environ)
        if haproxy:
            result = exec_result(command, rc, doc, err)
        else:
            entry = next(iter(doc.values())) if doc else None
            if entry is None:
                result = dict(command=command, rc=rc, reply=None, errors=stderr_lines(err))
            else:
                result = dict(command=command, rc=entry["code"], reply=entry["result"],
                              errors=entry["errors"])
        results.append(result)
        if result["rc"] != 0:
            failures.append(failure_message("'%s' on %s" % (command, params["socket"]),
                                            result["rc"], result["errors"]))
            if not params["keep_going"]:
                break
    output = dict(
        results=results,
        replies=[r["reply"] for r in results],
        changed=not params["read_only"] and bool(results),
    )
    if failures:
        # Commands before the failure may have changed something.
        output["changed"] = not params["read_only"] and any(r["rc"] == 0 for r in results)
        module.fail_json(msg="; ".join(failures), **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
