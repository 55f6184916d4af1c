# -*- coding: utf-8 -*-
# Copyright: sockctl contributors
# MIT or Apache-2.0, at your option (see the LICENSE files of the sockctl project).
"""What every module of the collection shares: finding the sockctl binary, running it, reading
its JSON and its exit code."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

# sockctl's exit codes (docs/exit-codes.md), for messages.
EXIT_MEANINGS = {
    0: "ok",
    1: "the server said the command failed",
    2: "refused before acting (usage)",
    3: "cannot connect",
    4: "timed out",
    5: "the reply was invalid or incomplete",
    6: "cannot write the output",
}

INSTALL_HINT = (
    "install sockctl on the managed host: the .deb package (dpkg -i sockctl_VERSION_amd64.deb), "
    "the release tarball (install -m 0755 sockctl /usr/local/bin), or from its source "
    "(cargo install --path . / pip install .), or give sockctl_path"
)

SEARCH_DIRS = ["/usr/local/bin", "/usr/bin", "/usr/sbin"]


def common_argument_spec():
    """The options of every module."""
    return dict(
        sockctl_path=dict(type="path"),
        timeout=dict(type="str"),
    )


class Sockctl(object):
    """The sockctl binary on the managed host, found once."""

    def __init__(self, module):
        self.module = module
        self.path = self._find()

    def _find(self):
        given = self.module.params.get("sockctl_path")
        if given:
            if not os.path.exists(given):
                self.module.fail_json(
                    msg="sockctl is not installed at %s (sockctl_path): %s" % (given, INSTALL_HINT)
                )
            if os.path.isdir(given) or not os.access(given, os.X_OK):
                self.module.fail_json(
                    msg="sockctl_path %s is not an executable file: %s" % (given, INSTALL_HINT)
                )
            return given
        found = self.module.get_bin_path("sockctl", opt_dirs=SEARCH_DIRS)
        if not found:
            self.module.fail_json(
                msg="sockctl was not found on the managed host (PATH, %s): %s"
                % (", ".join(SEARCH_DIRS), INSTALL_HINT)
            )
        return found

    def run(self, args, environ_update=None):
        """Runs sockctl with `args`; returns (rc, stdout, stderr). Never through a shell."""
        argv = [self.path] + list(args)
        rc, out, err = self.module.run_command(
            argv, environ_update=environ_update or {}, check_rc=False
        )
        return rc, out, err

    def json(self, args, environ_update=None):
        """Runs sockctl and parses its JSON; returns (rc, document or None, stderr)."""
        rc, out, err = self.run(args, environ_update=environ_update)
        doc = None
        if out.strip():
            try:
                doc = json.loads(out)
            except ValueError:
                self.module.fail_json(
                    msg="sockctl printed something that is not JSON (exit %d): %s"
                    % (rc, out[:400]),
                    rc=rc,
                    stdout=out,
                    stderr=err,
                )
        return rc, doc, err

    def timeout_args(self):
        timeout = self.module.params.get("timeout")
        return ["--timeout", timeout] if timeout else []


def stderr_lines(err):
    """sockctl's messages, without the `sockctl: ` each one starts with."""
    lines = []
    for line in (err or "").splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line.startswith("sockctl: "):
            line = line[len("sockctl: "):]
        lines.append(line)
    return lines


def meaning(rc):
    return EXIT_MEANINGS.get(rc, "exit code %d" % rc)


def failure_message(what, rc, errors):
    """One message for a failed run: what, why (the exit code's meaning), sockctl's words."""
    message = "%s: %s (sockctl exit %d)" % (what, meaning(rc), rc)
    if errors:
        message += ": " + "; ".join(errors)
    return message
