//! The help texts of `sockctl --help` and the manual pages, apart from the definitions so that
//! those read as a list of options.

/// The exit codes as `--help` shows them, a literal so that help texts can `concat!` it.
macro_rules! exit_codes_help {
    () => {
        "\
Exit codes:
  0    success
  1    the server answered, but the command failed
  2    usage error (bad option, address or command)
  3    cannot connect (missing, refused, permission denied, not a socket, DNS)
  4    timed out before the reply was complete (connect timeout included)
  5    reply invalid or incomplete (reset, too large, failed validation)
  6    cannot write the output (-o FILE or standard output; also standard output
       closed before every command ran)
  130  interrupted"
    };
}

/// How several sockets are asked, for the help of every command that takes them.
macro_rules! many_help {
    () => {
        "\n\nSeveral sockets (-s repeated, or --sockets-file FILE with one address per line) are \
         asked at once, at most -j N at a time (16): every output line starts with 'ADDR: ', \
         each socket's lines together, in the order the sockets finish; --json prints one \
         object keyed by address ({\"ADDR\": {\"code\", \"errors\", \"result\"}}). The exit code \
         is the worst. On a terminal, a progress bar shows when it takes a while."
    };
}

pub const SHELL_HELP: &str = "\
Examples:
  sockctl shell /run/haproxy/admin.sock          # stats socket: admin.sock> show info
  sockctl shell /run/haproxy/master.sock         # master CLI: master> @1, then master@1> ...
  printf 'show info\\nshow stat\\n' | sockctl shell /run/haproxy/admin.sock   # one connection

In the session: Tab completes commands (from the server's help) and backend/server names;
a line ending in ' <<' reads payload lines until an empty line; Ctrl-C abandons the wait for a
reply; Ctrl-D or 'quit' leaves. History is kept per socket in $XDG_STATE_HOME/sockctl/.
Reply bytes that are control characters or escape sequences are shown escaped (\\x1b...)
unless --raw, which also skips HAProxy detection: lines are sent as typed and whatever the
server sends is printed as it arrives.

With standard input piped, each reply is written as the exact bytes of the command on its own
connection, and the exit code is the highest of the run: 1 if a command failed (HAProxy's error
messages count), 4 or 5 if a reply was incomplete (see sockctl --help).";

pub const HAPROXY_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy exec -s /run/haproxy/admin.sock 'set server be_app/s1 state drain'
  sockctl haproxy reload --save-state --json
  sockctl haproxy servers --backend be_app --table

Without -s, the socket is $SOCKCTL_SOCKET, else the 'stats socket' of --config, else the -S
socket of the running HAProxy master.

",
    exit_codes_help!()
);

pub const COMPLETIONS_HELP: &str = "\
Examples:
  sockctl completions bash > /etc/bash_completion.d/sockctl
  sockctl completions zsh > \"${fpath[1]}/_sockctl\"
  sockctl completions fish > ~/.config/fish/completions/sockctl.fish";

pub const SAVE_STATE_HELP: &str = "\
Examples:
  sockctl haproxy save-state
  sockctl haproxy save-state -s /run/haproxy-master.sock -o /var/lib/haproxy/server-state
  sockctl haproxy save-state -s /run/haproxy/admin.sock --backend be_app -o be_app.state

The dump is checked line by line (version line, header, every server line complete, final
empty line) while it streams into a temporary file; the state file is replaced only when the
dump is complete, so HAProxy never loads a truncated file. A lock beside the file
(.NAME.sockctl-lock) keeps two runs apart.

Without -o the file is the server-state-file of the configuration HAProxy runs (--config, else
the running master's command line). Refused, exit 2 and nothing written, when HAProxy would not
load it: the configuration cannot be read, has no server-state-file, or no backend says
'load-server-state-from-file global'.";

pub const RELOAD_HELP: &str = "\
Examples:
  sockctl haproxy reload --save-state
  sockctl haproxy reload -s /run/haproxy-master.sock --json
  sockctl haproxy reload --save-state --state-file /var/lib/haproxy/server-state --timeout 10m
  sockctl haproxy reload --save-state --sync-maps --strict

HAProxy 2.7+ answers 'reload' with Success=1/0 and its startup log; 2.6 answers nothing and
is verified by polling 'show proc' until the reload counter moves: a higher failure counter
means the new configuration was rejected, a new worker means it serves. With --save-state,
the state goes where the running configuration loads it, or the run is refused (exit 2, no
reload; see save-state --help; --state-file PATH --force writes it anyway).
Before the reload, what it would lose is said on stderr, one warning each: servers added at
runtime, map/ACL entries that differ from their files, a port the state file restores over
the configuration's, a running address the configuration replaces. --strict refuses instead;
--sync-maps writes the running map/ACL entries to their files first.
Exit codes: 0 reloaded; 1 reload failed (old worker still serving), HAProxy exited or was left
without a worker, or refused by HAProxy; 2 state file HAProxy would not load, --strict with
something to lose, a map file --sync-maps must not overwrite; 3 cannot connect; 4 no outcome
before --timeout; 5 unexpected reply (Success=1 with nothing changed); 6 a map file that cannot
be written (no reload); see sockctl --help.";

pub const PROC_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy proc
  sockctl haproxy proc -s /run/haproxy-master.sock --json
  sockctl haproxy proc -s @lb1-master -s @lb2-master

The table is the default, also when standard output is not a terminal.",
    many_help!()
);

pub const EXEC_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy exec -s /run/haproxy/admin.sock 'set server be_app/s1 state drain'
  sockctl haproxy exec -s /run/haproxy/admin.sock --keep-going --batch weights.txt
  sockctl haproxy exec --sockets-file lbs.txt --worker all 'show info'

On a stats socket each COMMAND is sent after 'set severity-output number;': messages of
severity 0-3 (emerg..err) are failures, their text goes to standard error, and the tags are
removed from what is shown, which is otherwise exactly HAProxy's reply. 'Unknown command',
'Permission denied', 'This command is restricted' and JSON 'errorStr' replies are failures
too. Through a master socket HAProxy 2.6 gives no severities; failures are recognized by
HAProxy's error texts ('No such server.', 'Can't find backend.', ...).

--batch FILE (- for standard input) runs one command per line over one connection (blank
lines and # comments skipped, a command ending in ' <<' takes the lines up to an empty line
as its payload); each output is exactly what the command returns on a connection of its own,
and a failure names its line. Without --keep-going, commands go one at a time and the first
failure stops the batch; with it, they are written ahead of their replies, several times
faster. If the connection is lost, the batch stops (exit 5) and names the lines that may have
run: nothing is sent twice.",
    many_help!(),
    "

Exit codes: 0 every command succeeded, 1 HAProxy said a command failed, 2 usage (a ';'
without --allow-chaining, --worker on a stats socket), 3 cannot connect, 4 timeout, 5 bad
reply; see sockctl --help."
);

pub const STAT_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy stat --backend be_app --type server
  sockctl haproxy stat -s /run/haproxy/admin.sock --json | jq '.rows[] | {svname, status}'
  sockctl haproxy stat --sockets-file lbs.txt --columns pxname,svname,status,scur

Rows are keyed by the header HAProxy sent, so every version works; numbers are numbers and
empty fields null. Default table columns: pxname, svname, status, weight, scur, smax,
check_status, lastchg.",
    many_help!()
);

pub const INFO_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy info
  sockctl haproxy info -s /run/haproxy-master.sock --worker 4242
  sockctl haproxy info --sockets-file lbs.txt --json | jq 'map_values(.result.CurrConns)'",
    many_help!()
);

pub const SERVERS_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy servers
  sockctl haproxy servers --backend be_app --json | jq '.servers[] | {name, admin_state_name}'
  sockctl haproxy servers -s lb1:9999 -s lb2:9999 --backend be_app --table",
    many_help!()
);

pub const MAP_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy map
  sockctl haproxy map /etc/haproxy/hosts.map --json | jq -r '.entries[] | \"\\(.key) \\(.value)\"'
  sockctl haproxy map '#2' --table

Without NAME, the maps HAProxy loaded (id, file, entry count); with NAME (the file as in the
configuration, or #ID), its entries. An empty map is an empty list.",
    many_help!()
);

pub const ACL_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy acl
  sockctl haproxy acl /etc/haproxy/allow.acl --json | jq -r '.entries[].pattern'
  sockctl haproxy acl '#0' -s /run/haproxy-master.sock --table

Without NAME, the ACLs HAProxy loaded (id, file, entry count); with NAME (the file as in the
configuration, or #ID), its patterns. An empty ACL is an empty list.",
    many_help!()
);

pub const TABLE_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy table
  sockctl haproxy table st_src --filter 'data.gpc0 gt 0' --json | jq -r '.entries[].key'
  sockctl haproxy table st_src --filter 'data.http_req_rate ge 100' --filter 'data.conn_cur gt 5'

Without TABLE, the stick tables (name, type, size, used); with TABLE, its entries: key, use
count, milliseconds to expiry, and every stored data field typed. Filters are checked before
anything is sent (a stored data type name, an operator among eq ne le ge lt gt, a whole
number; at most 4, as HAProxy takes) and applied by HAProxy.",
    many_help!()
);

pub const SESS_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy sess
  sockctl haproxy sess -s /run/haproxy-master.sock --worker 4242 --table
  sockctl haproxy sess --json | jq '.sessions[] | select(.backend == \"be_app\") | .pointer'

One record per stream: pointer, protocol, source, frontend, backend, server, age, calls; the
fields that change between versions are kept as text under 'extra'.",
    many_help!()
);

pub const CERT_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy cert
  sockctl haproxy cert --sockets-file lbs.txt --json
  sockctl haproxy cert /etc/haproxy/site.pem --json | jq '.not_after_unix'

Without NAME, the certificate files HAProxy loaded; with NAME, the details of one: status,
serial, validity, subject, issuer, SANs, chain, and every line as sent.",
    many_help!()
);

pub const SEND_HELP: &str = concat!(
    "\
Examples:
  sockctl send /run/haproxy/admin.sock 'show info'
  printf '@1 show info\\n@1 show stat\\n' | sockctl send /run/haproxy-master.sock -
  sockctl send -s lb1:9999 -s lb2:9999 --json 'show info'

With -s or --sockets-file, every argument is a COMMAND.",
    many_help!(),
    "

Addresses:
  /path/to.sock, ./rel.sock, unix:PATH, unix@PATH   Unix socket file (any path length)
  abns@NAME                                         abstract socket, NUL-padded as HAProxy binds it
  @NAME, abstract:NAME, abnsz@NAME                  abstract socket, the name exactly
  HOST:PORT, [V6]:PORT, tcp:HOST:PORT               TCP (every resolved address is tried)
  ipv4@HOST:PORT, ipv6@HOST:PORT                    TCP, one address family only
  ssh://[USER@]HOST[:PORT]/PATH                     on another host, through ssh and its sockctl
  ssh://HOST/@NAME, ssh://HOST/tcp:HOST:PORT        (ssh's options in $SOCKCTL_SSH)

",
    exit_codes_help!()
);

pub const OPERATE_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy drain web1 --wait --wait-timeout 2m --then maint
  sockctl haproxy ready be_app/web1 --wait -s /run/lb1/admin.sock -s /run/lb2/admin.sock
  sockctl haproxy weight web1 50
  sockctl haproxy drain web1 --dry-run --json

A NAME without a backend acts on every backend that has a server of that name; none is exit 1.
With --wait, progress goes to stderr on a terminal; at --wait-timeout, exit 4 names what is
left (sessions, queue, status). A server already in the state is done at once.
--json: one record per socket and server, with its state before and after and whether it
changed; --dry-run reads the state and says what would change, sending no change.

",
    exit_codes_help!()
);

pub const TOP_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy top
  sockctl haproxy top -s /run/lb1/admin.sock -s /run/lb2/admin.sock --interval 5s
  sockctl haproxy top --filter be_app -n 3 > snapshot.txt

Each refresh reads `show stat` and `show servers state` from every socket: status, admin
state (ready, drain, maint), weight, current, highest and limit
of sessions, queue, new sessions and bytes per second (from the difference with the last
refresh), errors (request, connection, response) and the last check.
Keys: up/down or j/k select, / filter, s sort (config order, sessions, rate, queue, errors,
name), d drain, r ready, m maint, w weight (the selected server, after a y to confirm, as
`sockctl haproxy drain BACKEND/NAME` would), q or Ctrl-C quit. SIGTERM also ends it, with the
terminal restored. When stdout is not a terminal (or with --plain), one table per refresh.
Exit status: a socket that could not be read at the last refresh makes it non-zero.

",
    exit_codes_help!()
);

pub const ADD_DEL_HELP: &str = concat!(
    "\
Examples:
  sockctl haproxy add -s /run/haproxy/admin.sock be_app/web9 10.0.0.9:8080 check weight 10
  sockctl haproxy add --ready -s /run/haproxy/master.sock be_app/web10 unix@/run/app10.sock
  sockctl haproxy del web9 --wait-timeout 2m

`del` puts the server in maintenance (HAProxy deletes only those), waits until no session is
left on it, and deletes it: one verdict. At --wait-timeout it is exit 4 and the server stays in
maintenance, unless --shutdown-sessions ends what is left first.

",
    exit_codes_help!()
);
