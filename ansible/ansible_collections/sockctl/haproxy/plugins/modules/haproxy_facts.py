#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sockctl contributors
# MIT or Apache-2.0, at your option (see the LICENSE files of the sockctl project).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: haproxy_facts
short_description: HAProxy's servers, info and processes as facts
description:
  - Runs C(sockctl haproxy servers|info|proc --json) on the managed host and sets the fact
    C(sockctl_haproxy) with what each printed, under C(servers), C(info) and C(proc).
  - Reads only; runs in check mode too.
version_added: "0.1.0"
author:
  - sockctl contributors
options:
  socket:
    description:
      - A stats socket or the master socket (through the master, C(servers) and C(info) ask the
        current worker). C(proc) needs the master socket.
      - When omitted, sockctl finds the socket (from O(config) or the running master).
    type: str
  gather:
    description:
      - What to read.
    type: list
    elements: str
    choices: [servers, info, proc]
    default: [servers, info, proc]
  backend:
    description:
      - Only the servers of this backend.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - sockctl.haproxy.sockctl
  - sockctl.haproxy.sockctl.haproxy
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
"""

EXAMPLES = r"""
- name: Read HAProxy's state through its master socket
  sockctl.haproxy.haproxy_facts:
    socket: /run/haproxy-master.sock

- name: Servers that are not ready
  ansible.builtin.debug:
    msg: "{{ ansible_facts.sockctl_haproxy.servers.servers
             | rejectattr('admin_state_name', 'equalto', 'ready')
             | map(attribute='name') | list }}"

- name: Only the servers of one backend, from a stats socket
  sockctl.haproxy.haproxy_facts:
    socket: /run/haproxy/admin.sock
    gather: [servers]
    backend: be_app
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    sockctl_haproxy:
      description: What was read, keyed by what was asked.
      type: complex
      contains:
        servers:
          description: C(sockctl haproxy servers --json) (C(version), C(fields), C(servers)).
          returned: when gathered
          type: dict
        info:
          description: C(sockctl haproxy info --json) (C(show info), typed).
          returned: when gathered
          type: dict
        proc:
          description: C(sockctl haproxy proc --json) (C(master), C(workers), C(old_workers), ...).
          returned: when gathered
          type: dict
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
        gather=dict(
            type="list",
            elements="str",
            choices=["servers", "info", "proc"],
            default=["servers", "info", "proc"],
        ),
        backend=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    sockctl = Sockctl(module)

    facts = {}
    for view in params["gather"]:
        args = ["haproxy", view, "--json"]
        if params["socket"]:
            args += ["-s", params["socket"]]
        if params["config"]:
            args += ["--config", params["config"]]
        if view == "servers" and params["backend"]:
            args += ["--backend", params["backend"]]
        args += sockctl.timeout_args()
        rc, doc, err = sockctl.json(args)
        if rc != 0 or doc is None:
            module.fail_json(
                msg=failure_message("haproxy %s" % view, rc, stderr_lines(err)),
                rc=rc,
                ansible_facts=dict(sockctl_haproxy=facts),
            )
        facts[view] = doc
    module.exit_json(changed=False, ansible_facts=dict(sockctl_haproxy=facts))


if __name__ == "__main__":
    main()
