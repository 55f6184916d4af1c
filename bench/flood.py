#!/usr/bin/env python3
"""A peer that answers like HAProxy until the command that matters, then floods (bench/memory.sh).

    flood.py DIR SIZE [STAT_SIZE]

Listens on DIR/raw.sock and DIR/raw2.sock (every command gets SIZE bytes of lines, then the
connection closes: what `send` sees), DIR/stats.sock (an HAProxy stats socket: `show proc`
alone is an unknown command, so it is taken for a stats socket; `prompt p` and
`set severity-output number` answered as HAProxy does; `show stat` gets a well-formed CSV of
STAT_SIZE bytes; any other command SIZE bytes of lines that hold no prompt, then, in prompt
mode, the prompt), DIR/master.sock (a 2.6 master CLI: `show proc` lists one worker, any
other command is flooded as on stats.sock), DIR/stats2.sock (a second stats.sock) and
DIR/stat-big.sock (as stats.sock, but `show
stat` gets SIZE + 1 MiB of lines). Prints "ready" once listening; runs until killed.
"""
import os
import socket
import sys
import threading

LINE = b"flood " * 10 + b"flood\n"
CHUNK = LINE * (65536 // len(LINE))
HEADER = (
    b"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
    b"wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,"
    b"throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    b"check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,"
    b"req_rate_max,req_tot,cli_abrt,srv_abrt,\n"
)
SHOW_PROC = (
    b"#<PID>          <type>          <reloads>       <uptime>        <version>\n"
    b"1               master          0 [failed: 0]   0d00h00m01s     2.6.12\n"
    b"# workers\n"
    b"2               worker          0               0d00h00m01s     2.6.12\n"
    b"# old workers\n"
    b"# programs\n"
    b"\n"
)
# One server row as HAProxy 2.6 writes it, with the columns of HEADER (about 140 bytes).
ROW = (
    b"be_app,s%07d,0,0,0,3,,51,4812,29379,,0,,0,0,0,0,UP,1,1,0,0,0,75,0,,1,3,%d,,51,,2,0,,4,"
    b"L4OK,,0,0,51,0,0,0,0,,,,,0,0,\n"
)


def send_lines(conn, size):
    # Whole lines, so that a prompt after them starts a line.
    left = size // len(LINE) * len(LINE)
    while left > 0:
        n = min(left, len(CHUNK))
        conn.sendall(CHUNK[:n])
        left -= n


def send_stat(conn, size):
    out = bytearray(HEADER)
    i = 0
    sent = 0
    while sent + len(out) < size:
        out += ROW % (i, i)
        i += 1
        if len(out) >= 1 << 20:
            conn.sendall(out)
            sent += len(out)
            out = bytearray()
    conn.sendall(bytes(out) + b"\n")


def serve(conn, kind, size, stat_size):
    prompt_mode = False
    pending = b""
    try:
        while True:
            while b"\n" not in pending:
                data = conn.recv(4096)
                if not data:
                    return
                pending += data
            line, pending = pending.split(b"\n", 1)
            command = line.strip().decode(errors="replace")
            if command.startswith("set severity-output number;"):
                # A connection of its own: HAProxy answers the setting with an empty line.
                conn.sendall(b"\n")
                command = command.split(";", 1)[1].strip()
            if kind == "raw":
                send_lines(conn, size)
                return
            prompt = b"master> " if kind == "master" else b"\n> "
            if command == "prompt p":
                prompt_mode = True
                conn.sendall(prompt)
                continue
            if command == "show proc" and not prompt_mode:
                conn.sendall(SHOW_PROC if kind == "master" else b"Unknown command.\n")
                return
            if command == "set severity-output number":
                conn.sendall(b"\n> " if prompt_mode else b"\n")
                continue
            if command.endswith("show stat") and kind == "stats":
                send_stat(conn, stat_size)
            elif command.endswith("show stat") and kind == "stat-big":
                send_lines(conn, size + (1 << 20))
            else:
                send_lines(conn, size)
            if not prompt_mode:
                return
            conn.sendall(b"master> " if kind == "master" else b"\n> ")
    except OSError:
        pass
    finally:
        conn.close()


def listen(path, kind, size, stat_size):
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)

    def accept():
        while True:
            conn, _ = server.accept()
            args = (conn, kind, size, stat_size)
            threading.Thread(target=serve, args=args, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def main():
    directory, size = sys.argv[1], int(sys.argv[2])
    stat_size = int(sys.argv[3]) if len(sys.argv) > 3 else size
    listen(os.path.join(directory, "raw.sock"), "raw", size, stat_size)
    listen(os.path.join(directory, "raw2.sock"), "raw", size, stat_size)
    for kind in ["stats", "master", "stat-big"]:
        listen(os.path.join(directory, kind + ".sock"), kind, size, stat_size)
    listen(os.path.join(directory, "stats2.sock"), "stats", size, stat_size)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
