# -*- coding: utf-8 -*-
# Copyright: sockctl contributors
# MIT or Apache-2.0, at your option (see the LICENSE files of the sockctl project).

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options every module of this collection shares.
    DOCUMENTATION = r"""
options:
  sockctl_path:
    description:
      - The sockctl binary on the managed host.
      - When omitted, C(sockctl) is looked for on the E(PATH), then in C(/usr/local/bin), C(/usr/bin)
        and C(/usr/sbin).
      - When it is not found, the task fails saying so and how to install it.
    type: path
  timeout:
    description:
      - Limit for each exchange with a socket, connect included, as sockctl takes it (V(10s), V(2m)).
      - sockctl's own default when omitted.
    type: str
requirements:
  - The sockctl binary on the managed host (the C(.deb) package, the release tarball, C(cargo install), or C(pip install) of the sockctl source).
notes:
  - Every module runs sockctl on the managed host and reads its C(--json) output; sockctl's exit
    code is the verdict (0 ok, 1 the server said no, 2 refused before acting, 3 cannot connect,
    4 timeout, 5 bad or incomplete reply).
"""

    # Where HAProxy is: sockets, or discovery.
    HAPROXY = r"""
options:
  config:
    description:
      - The HAProxy configuration (a file or a directory, as for C(haproxy -f)) sockctl reads to
        find the stats socket when no socket is given, and the state file.
      - When omitted, sockctl uses the running master's own configuration, else
        C(/etc/haproxy/haproxy.cfg).
    type: path
"""
