#!/usr/bin/env python3
"""Turns what bench/run.sh recorded into the results part of BENCHMARKS.md.

    report.py RESULTS_DIR TEMP_DIR PYTHON     markdown on stdout
    report.py --splice FILE RESULTS_MD        put RESULTS_MD between FILE's result markers

Every ratio is between two peers of the same hyperfine run; with several rounds, the ratio
reported is the median of the per-round ratios (the range shows how much rounds disagreed).
Times are hyperfine's, minus the start-up of the shell that runs each command.
"""
import json
import os
import statistics
import sys

BEGIN = "<!-- bench/run.sh results: begin -->"
END = "<!-- bench/run.sh results: end -->"

TARGET_LATENCY = 1.10  # one-shot within 10% of the floor
TARGET_BULK = 1.10  # 1 GiB to /dev/null within 10% of the floor
TARGET_RSS_KIB = 4096  # peak RSS under 4 MiB ...
TARGET_RSS_FLAT = 1.10  # ... and flat: the largest reply's peak at most 10% above the smallest's
TARGET_BATCH_SOCAT = 100
TARGET_BATCH_PYTHON = 5
TARGET_LOCKSTEP = 1.15  # the batch that stops at its first failure within 15% of its floor
TARGET_SIZE = 1.5 * 1024 * 1024


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


class Results:
    def __init__(self, rdir, tdir, python):
        self.rdir = rdir
        self.subst = [(tdir, "$T"), (python, "$PY")]
        self.facts = dict(read_tsv(os.path.join(rdir, "facts.tsv")))
        self.commands = read_tsv(os.path.join(rdir, "commands.tsv"))
        self.benches = {row[0]: row[1:] for row in read_tsv(os.path.join(rdir, "benches.tsv"))}
        self.skips = read_tsv(os.path.join(rdir, "skips.tsv"))
        self.rss = read_tsv(os.path.join(rdir, "rss.tsv"))

    def clean(self, text):
        for old, new in self.subst:
            text = text.replace(old, new)
        return text

    def rounds(self, tag):
        """[{name: result}] for each round of a hyperfine benchmark."""
        out = []
        r = 1
        while True:
            path = os.path.join(self.rdir, f"{tag}.round{r}.json")
            if not os.path.exists(path):
                return out
            with open(path) as f:
                out.append({res["command"]: res for res in json.load(f)["results"]})
            r += 1

    def names(self, tag):
        return [row[1] for row in self.commands if row[0] == tag]

    def skipped(self, workload):
        seen = []
        for w, name, why in self.skips:
            if w == workload and (name, why) not in seen:
                seen.append((name, why))
        return seen

    def median(self, tag, name):
        """The median of the rounds' median run times, in seconds: one round spoiled by a
        burst of load from elsewhere does not move it."""
        return statistics.median(rnd[name]["median"] for rnd in self.rounds(tag))

    def cpu(self, tag, name):
        rs = self.rounds(tag)
        return statistics.mean(r[name]["user"] + r[name]["system"] for r in rs)

    def mean_sd(self, tag, name):
        times = [t for rnd in self.rounds(tag) for t in rnd[name]["times"]]
        return statistics.mean(times), statistics.stdev(times) if len(times) > 1 else 0.0

    def ratio(self, tag, name, base):
        """(median of per-round ratios, min, max) of name's median time over base's."""
        per_round = [r[name]["median"] / r[base]["median"] for r in self.rounds(tag)]
        return statistics.median(per_round), min(per_round), max(per_round)


def fmt_time(s):
    if s < 0.0095:
        return f"{s * 1000:.2f} ms"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r):
    med, lo, hi = r
    if abs(hi - lo) < 0.005:
        return f"{med:.2f}"
    return f"{med:.2f} ({lo:.2f}–{hi:.2f})"


def speed(x):
    return f"{x:.0f}×" if x >= 10 else f"{x:.2g}×"


def kib(n):
    return f"{int(n):,} KiB"


def musl_note(res, tag, base):
    name = "sockctl (static musl)"
    if name not in res.names(tag):
        return ""
    return f"; static musl build: {fmt_ratio(res.ratio(tag, name, base))}"


def verdict(ok):
    return "**met**" if ok else "**not met**"


MUSL = "sockctl (static musl)"


def build_verdict(res, tag, base, ok):
    """The verdict for the release build, and for the static build when it differs: the static
    one is what `make static` ships, and start-up is where the two part ways."""
    release = ok(res.ratio(tag, "sockctl", base)[0])
    if MUSL not in res.names(tag):
        return verdict(release)
    static = ok(res.ratio(tag, MUSL, base)[0])
    if release == static:
        return verdict(release)
    good, bad = ("release", "static musl") if release else ("static musl", "release")
    return f"**met** by the {good} build, not by the {bad} build"


def timing_table(res, tag, base, extra_cols=None):
    rows = [
        "| peer | median | mean ± σ | user + sys (mean) | × " + base + " |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in res.names(tag):
        mean, sd = res.mean_sd(tag, name)
        rows.append(
            f"| {name} | {fmt_time(res.median(tag, name))} | {fmt_time(mean)} ± "
            f"{fmt_time(sd)} | {fmt_time(res.cpu(tag, name))} | "
            f"{fmt_ratio(res.ratio(tag, name, base))} |"
        )
    return rows


def bench_line(res, tag):
    rounds, warmup, runs, tool, extra = (res.benches.get(tag, []) + [""] * 5)[:5]
    if tool == "spawn-bench":
        block = extra or "10"
        turns = "run by run" if block == "1" else f"{block} runs at a time"
        how = (
            f"bench/tools `spawn-bench`: {rounds} round(s) of {runs} runs after {warmup} warm-up "
            f"runs, the peers taking turns {turns}, each program started directly (no "
            "shell) with its standard input from the command file"
        )
    else:
        extra = f", `{res.clean(extra)}`" if extra else ""
        how = f"hyperfine: {rounds} round(s) of {runs} runs after {warmup} warm-up run(s){extra}"
    return how + "; the median run time is reported (with several rounds, the median of the rounds' medians)."


def skip_rows(res, workload, cols):
    return [f"| {name} | {why} |" + " |" * (cols - 2) for name, why in res.skipped(workload)]


def report(res):
    f = res.facts
    out = []
    add = out.append
    big = int(f.get("big_bytes", 1 << 30))
    big_name = "1 GiB" if big == 1 << 30 else f"{big >> 20} MiB"
    loop_n = int(f.get("loop_n", 10000))
    socat_n = int(f.get("socat_n", 1000))
    reload_servers = int(f.get("reload_servers", 20000))

    add("## Machine and versions\n")
    add("| | |")
    add("|---|---|")
    add(f"| CPU | {f.get('cpu')}, {f.get('cores')} cores, {f.get('memory')} RAM |")
    add(f"| kernel | {f.get('kernel')} |")
    add(f"| load average (1, 5, 15 min) | {f.get('load_before')} before, {f.get('load_after')} after |")
    for key in ["sockctl", "rustc", "cc", "haproxy", "socat", "nc", "python", "hyperfine"]:
        if key in f:
            label = "sockctl (git rev)" if key == "sockctl" else key
            add(f"| {label} | {f[key]} |")
    add("")
    if int(f.get("ha_restarts", "0")) > 0:
        add(
            f"HAProxy was stopped from outside {f['ha_restarts']} time(s) during the run (by "
            "something else on the machine); it was restarted with the same config and the "
            "rounds it spoiled were run again.\n"
        )

    targets = []
    # ---- workload 1
    add("## 1. One `show info` against a real HAProxy\n")
    add(bench_line(res, "w1") + "\n")
    add("\n".join(timing_table(res, "w1", "floor") + skip_rows(res, "w1", 5)) + "\n")
    if res.rounds("w1hf"):
        add(
            "Cross-check with hyperfine (`-N`: no shell; only the peers that take the command as "
            "an argument, since hyperfine 1.15 can give a program standard input only through a "
            "shell, whose start-up is as long as the exchange and too noisy to subtract). "
            + bench_line(res, "w1hf")
            + "\n"
        )
        add("\n".join(timing_table(res, "w1hf", "floor")) + "\n")
    if res.rounds("w1"):
        r = res.ratio("w1", "sockctl", "floor")
        targets.append(
            (
                "one-shot latency within 10% of the floor",
                f"sockctl / floor = {fmt_ratio(r)}" + musl_note(res, "w1", "floor"),
                build_verdict(res, "w1", "floor", lambda x: x <= TARGET_LATENCY),
            )
        )
        if "nc -N" in res.names("w1"):
            r = res.ratio("w1", "sockctl", "nc -N")
            targets.append(
                (
                    "one-shot latency no worse than `nc -N`",
                    f"sockctl / nc -N = {fmt_ratio(r)}" + musl_note(res, "w1", "nc -N"),
                    build_verdict(res, "w1", "nc -N", lambda x: x <= 1.0),
                )
            )
        else:
            targets.append(("one-shot latency no worse than `nc -N`", "nc not installed", "not measured"))

    # ---- workload 2
    add(f"## 2. A {big_name} reply from the fast local server\n")
    add(f"To /dev/null. {bench_line(res, 'w2null')}\n")
    rows = timing_table(res, "w2null", "floor")
    rows[0] += " throughput |"
    rows[1] += "---:|"
    for i, name in enumerate(res.names("w2null")):
        rows[i + 2] += f" {big / res.median('w2null', name) / (1 << 30):.2f} GiB/s |"
    add("\n".join(rows + skip_rows(res, "w2", 6)) + "\n")
    r = res.ratio("w2null", "sockctl", "floor")
    targets.append(
        (
            f"{big_name} to /dev/null within 10% of the floor",
            f"sockctl / floor = {fmt_ratio(r)}" + musl_note(res, "w2null", "floor"),
            verdict(r[0] <= TARGET_BULK),
        )
    )
    add(
        f"To a file (removed before each run). `sockctl -o` writes a temporary file beside the "
        f"target, fsyncs it and renames it: the fsync of {big_name} is most of its extra time. "
        f"{bench_line(res, 'w2file')}\n"
    )
    add("\n".join(timing_table(res, "w2file", "floor")) + "\n")

    add("Peak RSS (`/usr/bin/time -v`, the largest of 3 runs), by reply size:\n")
    table = {}
    sizes = []
    for label, k, _ in res.rss:
        name, size = label.rsplit(", ", 1)
        table.setdefault(name, {})[size] = int(k)
        if size not in sizes:
            sizes.append(size)
    order = ["show info", "1K", "1M", "64M"]
    sizes.sort(key=lambda x: order.index(x) if x in order else len(order))
    add("| peer | " + " | ".join(sizes) + " |")
    add("|---|" + "---:|" * len(sizes))
    for name, row in table.items():
        add(f"| {name} | " + " | ".join(kib(row[x]) if x in row else "" for x in sizes) + " |")
    add("")
    sockctl_rss = [k for name, row in table.items() if name in ("sockctl", "sockctl -o") for k in row.values()]
    if sockctl_rss:
        hi, lo = max(sockctl_rss), min(sockctl_rss)
        musl = table.get("sockctl (static musl)")
        note = f"; static musl build: {kib(min(musl.values()))} – {kib(max(musl.values()))}" if musl else ""
        targets.append(
            (
                "peak RSS flat and under 4 MiB whatever the reply size",
                f"sockctl: {kib(lo)} – {kib(hi)} from `show info` to {big_name} "
                f"(-o included), largest / smallest = {hi / lo:.2f}{note}",
                verdict(hi < TARGET_RSS_KIB and hi / lo <= TARGET_RSS_FLAT),
            )
        )

    # ---- workload 3
    add(f"## 3. {loop_n:,} `set server be/sN weight W` against HAProxy (200 servers)\n")
    add(
        f"The socat loop runs {socat_n:,} commands and its time is scaled by "
        f"{loop_n / socat_n:g} to {loop_n:,} (it is linear: one socat process per command). "
        f"Every way was checked first: after it, every server's weight is the last one it set. "
        f"\"pipelined\" is not a way people use but what HAProxy itself allows: all the commands "
        f"on one connection in prompt mode (`prompt` first), sent by `nc -N`, a reference for the "
        f"batch. \"lockstep floor\" (`bench/lockstep.c`) is the least a batch that stops at its "
        f"first failure can do: the same exchange (`prompt p`, `set severity-output number`, "
        f"then one command at a time, each reply read up to its prompt, stopping at a failed "
        f"reply) with blocking writes and reads. "
        f"{bench_line(res, 'w3')}\n"
    )
    add("| way | commands run | median | per command | for " + f"{loop_n:,}" + " | speed vs socat loop | speed vs python loop |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    per10k = {}
    counts = {}
    for name in res.names("w3"):
        n = socat_n if name == "socat loop" else loop_n
        counts[name] = n
        per10k[name] = res.median("w3", name) * loop_n / n
    for name in res.names("w3"):
        vs_socat = f"{speed(per10k['socat loop'] / per10k[name])}" if "socat loop" in per10k else "–"
        vs_py = f"{speed(per10k['python loop'] / per10k[name])}"
        add(
            f"| {name} | {counts[name]:,} | {fmt_time(res.median('w3', name))} | "
            f"{res.median('w3', name) / counts[name] * 1e6:.0f} µs | {fmt_time(per10k[name])} | "
            f"{vs_socat} | {vs_py} |"
        )
    for name, why in res.skipped("w3"):
        add(f"| {name} | {why} | | | | | |")
    add("")
    if res.rounds("w3lockstep"):
        add(
            "The batch that stops at its first failure against its floor, timed on their own "
            "and in turns (one round trip per command moves with the load from elsewhere, and "
            "the table above runs each way's runs back to back). "
            + bench_line(res, "w3lockstep")
            + "\n"
        )
        add("\n".join(timing_table(res, "w3lockstep", "lockstep floor")) + "\n")
        r = res.ratio("w3lockstep", "sockctl batch", "lockstep floor")
        targets.append(
            (
                f"{loop_n:,}-command batch stopping at the first failure within 15% of the lockstep floor",
                f"sockctl batch / lockstep floor = {fmt_ratio(r)}",
                verdict(r[0] <= TARGET_LOCKSTEP),
            )
        )
    if "sockctl batch" in per10k:
        modes = [("stopping at the first failure", per10k["sockctl batch"])]
        if "sockctl batch --keep-going" in per10k:
            modes.append(("`--keep-going` (written ahead)", per10k["sockctl batch --keep-going"]))

        def batch_target(what, base, goal):
            if base not in per10k:
                return (f"{loop_n:,}-command batch ≥ {what}", f"{base} not installed", "not measured")
            ratios = [(mode, per10k[base] / t) for mode, t in modes]
            measured = "; ".join(f"{mode}: {x:.1f}×" for mode, x in ratios)
            met = [mode for mode, x in ratios if x >= goal]
            if len(met) == len(ratios):
                v = verdict(True)
            elif met:
                v = f"**met** with {met[0]}, not {', '.join(m for m, _ in ratios if m not in met)}"
            else:
                v = verdict(False)
            return (f"{loop_n:,}-command batch ≥ {what}", measured, v)

        targets.append(batch_target("100× faster than the socat loop", "socat loop", TARGET_BATCH_SOCAT))
        targets.append(batch_target("5× faster than the Python loop", "python loop", TARGET_BATCH_PYTHON))
    else:
        for what in ["100× faster than the socat loop", "5× faster than the Python loop"]:
            targets.append((f"{loop_n:,}-command batch ≥ {what}", "`sockctl haproxy exec --batch` not implemented yet", "not measured yet"))

    # ---- workload 4
    add(f"## 4. `reload --save-state` on a {reload_servers:,}-server backend\n")
    if res.rounds("w4reload"):
        add(bench_line(res, "w4reload") + "\n")
        add(
            "`haproxy -c` is HAProxy checking the same configuration: the least a reload can take, "
            "since the new worker must parse it. The socat script (`bench/reload-socat.sh`) saves "
            "the state to a temporary file and renames it, sends `reload`, then polls `show proc` "
            "until a new worker is listed; it validates nothing and would wait forever on a "
            "failed reload.\n"
        )
        add("\n".join(timing_table(res, "w4reload", "haproxy -c")) + "\n")
    else:
        for name, why in res.skipped("w4"):
            add(f"`{name}`: {why}.\n")
    add(
        f"Saving the state alone (`show servers state`, {reload_servers:,} server lines, "
        f"{int(f.get('state_bytes', 0)):,} bytes, to a file "
        f"removed before each run). {bench_line(res, 'w4state')}\n"
    )
    add("\n".join(timing_table(res, "w4state", "floor")) + "\n")

    # ---- workload 5
    add("## 5. Binary size\n")
    size = int(f["size_sockctl"])
    add("| binary | bytes |")
    add("|---|---:|")
    add(f"| sockctl, release profile (LTO, {f.get('size_sockctl_kind', '')}, panic=abort), dynamic glibc | {size:,} ({size / 1024:.0f} KiB) |")
    musl = f.get("size_musl", "")
    if musl.isdigit():
        add(f"| sockctl, static musl | {int(musl):,} ({int(musl) / 1024:.0f} KiB) |")
    else:
        add(f"| sockctl, static musl | {musl} |")
    add(f"| the floor (`cc -O2`, dynamic, not stripped) | {int(f['size_floor']):,} |")
    add("")
    musl_size = f"; static musl build: {int(musl) / 1024:.0f} KiB" if musl.isdigit() else ""
    targets.append(("stripped release binary under 1.5 MiB", f"{size / 1024:.0f} KiB{musl_size}", verdict(size < TARGET_SIZE)))

    head = [
        "## Targets\n",
        "| target | measured | verdict |",
        "|---|---|---|",
    ] + [f"| {t} | {m} | {v} |" for t, m, v in targets] + [""]

    cmds = ["## Exact commands\n"]
    cmds.append(
        "`$T` is the run's temp dir, `$PY` the Python 3 interpreter (resolved past any version "
        "manager's shim). Paths are relative to the repository root. Each command begins with "
        "`exec` so that the shell hyperfine starts it from replaces itself rather than forking; "
        "hyperfine subtracts that shell's start-up. HAProxy runs as "
        "`haproxy -W -S $T/NAME/master.sock -f $T/NAME/haproxy.cfg` with `stats socket "
        "$T/NAME/admin.sock level admin` and `backend be` / `server-template s N 127.0.0.1:9 "
        "disabled`; the reply server as `bench/tools/target/release/reply-server $T/reply.sock 1M` "
        "(the command names the reply size).\n"
    )
    cmds.append(
        "For w1 and w3lockstep, `spawn-bench` starts the same program and arguments directly, "
        "with the file after `<` as standard input; `exec` and `<` only say so in shell terms. "
        "w1hf runs the commands listed under it with `hyperfine -N`.\n"
    )
    for tag in ["w1", "w1hf", "w2null", "w2file", "w3", "w3lockstep", "w4state", "w4reload"]:
        rows = [(n, c) for t, n, c in res.commands if t == tag]
        if not rows:
            continue
        cmds.append(f"{tag}:\n")
        cmds.append("```sh")
        for name, command in rows:
            cmds.append(f"# {name}")
            cmds.append(res.clean(command))
        cmds.append("```\n")
    cmds.append("Peak RSS: `/usr/bin/time -v -o FILE` followed by the command above without `exec`.\n")

    checks = os.path.join(res.rdir, "checks.txt")
    if os.path.exists(checks):
        with open(checks) as fh:
            lines = [res.clean(line.rstrip("\n")) for line in fh]
        cmds.append("Correctness checks run before timing:\n")
        cmds.append("```text")
        cmds.extend(lines)
        cmds.append("```\n")

    return "\n".join(head + out + cmds)


def splice(path, results_path):
    with open(results_path) as f:
        results = f.read().rstrip("\n")
    block = f"{BEGIN}\n{results}\n{END}"
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = f"# Benchmarks\n\nWritten by `bench/run.sh`.\n\n{block}\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--splice":
        splice(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4:
        print(report(Results(*sys.argv[1:])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
