#!/usr/bin/env python3
"""The classic Python admin-socket client: connect, sendall, shutdown, recv until EOF.

    client.py ADDR COMMAND...   one connection per COMMAND, replies to stdout in order
    client.py ADDR -            the same for each line of stdin, all in this one process

ADDR is a Unix socket path (anything with a '/') or HOST:PORT. Replies are streamed to stdout
in 64 KiB reads, as a careful script would do; nothing is kept in memory.
"""
import socket
import sys


def exchange(addr, command, out):
    if "/" in addr:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr)
    else:
        host, _, port = addr.rpartition(":")
        s = socket.create_connection((host.strip("[]"), int(port)))
    with s:
        s.sendall(command + b"\n")
        s.shutdown(socket.SHUT_WR)
        while True:
            data = s.recv(65536)
            if not data:
                break
            out.write(data)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: client.py ADDR COMMAND... | client.py ADDR -")
    addr, commands = sys.argv[1], sys.argv[2:]
    out = sys.stdout.buffer
    if commands == ["-"]:
        commands = (line.rstrip(b"\r\n") for line in sys.stdin.buffer)
    else:
        commands = (c.encode() for c in commands)
    for command in commands:
        if command.strip():
            exchange(addr, command, out)
    out.flush()


if __name__ == "__main__":
    main()
