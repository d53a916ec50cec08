"""Turns bench/run's JSON results into bench/RESULTS.md and a latency chart."""
import datetime
import json
import os
import platform
import subprocess
import sys

out, md_path, svg_path = sys.argv[1:4]


def load(name):
    with open(os.path.join(out, name + ".json")) as f:
        return json.load(f)


def peer_version(peer, package):
    """The version of an npm peer's package as installed (else as pinned)."""
    for path in (f"bench/peers/{peer}/node_modules/{package}/package.json", f"bench/peers/{peer}/package.json"):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        return data.get("version") or data.get("dependencies", {}).get(package, "?")
    return "?"


def python_peer_version():
    """The Python peer's `websockets`, from the bench's virtualenv."""
    venv = os.environ.get("BENCH_VENV", os.path.expanduser("~/.cache/securechat-tests/bench-venv"))
    return cmd(f"{venv}/bin/python", "-c", "import websockets; print(websockets.__version__)") or "?"


def cmd(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


r = {n: load(n) for n in ["fanout10", "fanout3", "max100", "max1000", "durable", "durable1", "slow", "connect",
                          "logins", "storm", "idle"]}
# (file prefix, name, the target: SecureChat's max fan-out at least this many times the peer's)
PEERS = [("ws", "Node `ws`", 3), ("sio", "Socket.IO", 10), ("py", "Python `websockets`", 20),
         ("irc", "InspIRCd", 1)]
for prefix, _, _ in PEERS:
    for n in ["fanout10", "fanout3", "max100", "max1000"]:
        try:
            r[f"{prefix}_{n}"] = load(f"{prefix}_{n}")
        except OSError:
            r[f"{prefix}_{n}"] = {"refused": True}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
lines = [
    "# SecureChat benchmark results",
    "",
    f"Made by `bench/run` on {datetime.date.today()} — {cpu}, {os.cpu_count()} cores, "
    f"Linux {platform.release()}; {cmd('rustc', '--version')}; SecureChat "
    f"{cmd('target/release/securechat-server', '--version')}. Server pinned to core 0, "
    "load generator (`securechat-bench`, one thread) to core 1; loopback TLS 1.3.",
    "",
    "Peers measured in the same run, one at a time on the same core, with the same traffic (one room, "
    "broadcast to every connection, the sender included, TLS with the same certificate), each from "
    f"`bench/peers/`: Node `ws` {peer_version('node-ws', 'ws')}, Socket.IO {peer_version('socketio', 'socket.io')} "
    f"(WebSocket transport), Python `websockets` {python_peer_version()} "
    f"({cmd('python3', '--version')}), and InspIRCd {cmd('sh', '-c', 'inspircd --version 2>/dev/null | head -1') or '?'} "
    f"(Debian's; IRC over its WebSocket listener with TLS, `echo-message` on); Node {cmd('node', '--version') or '?'}. "
    "Ergo was the issue's IRC peer, "
    "but Debian's `ergo` package is a quantum chemistry program, and Ergo is on no registry reachable here.",
    "",
    "**Not the same work.** The peers relay what they receive: no authentication of each message, no "
    "parsing into typed events, no storage, no acknowledgement, and smaller frames. SecureChat checks "
    "and parses every `send`, commits it to disk (SQLite, one fsync per group commit) before anyone "
    "sees it, acks it, and sends each receiver a typed JSON event with its id, seq and time. The "
    "ratios below compare that against a relay.",
    "",
]


def server_core(step):
    load_ = step.get("server_load")
    return f"{load_ * 100:.0f}%" if load_ is not None else "—"


def lat(x):
    l = x["latency"]
    return f"{l['p50_ms']:.2f} / {l['p99_ms']:.2f} / {l['p999_ms']:.2f} / {l['max_ms']:.2f}"


def faults(x):
    return (f"{x['lost']} / {x.get('duplicated', '?')} / {x.get('out_of_order', '?')} / "
            f"{x.get('corrupted', '?')}")


def cpu_per_msg(x):
    """Server CPU per message sent (µs), or None."""
    load_ = x.get("server_load")
    return None if load_ is None or not x.get("sent") else load_ * 1e6 / x["offered_rate"]


lines += ["## Small rooms", "",
          "A DM-sized room (N = 3 receivers, 2 senders) and a team-sized one (N = 10, 4 senders) at 1,000 "
          "messages/s, on every server: the server's CPU per message (its core's busy share over the window "
          "divided by the rate), and the latency. SecureChat's message is durable (committed, fsync) before "
          "its ack and its fan-out. Every receiver checks every message (a hash of its content, its order): "
          "lost / duplicated / out of order / corrupted.", "",
          "| server | N | server core | CPU per message | × InspIRCd | p50 / p99 / p99.9 / max (ms) | lost / dup / order / corrupt |",
          "|---|---|---|---|---|---|---|"]
for n in ("3", "10"):
    base = r.get(f"irc_fanout{n}", {})
    base_cpu = None if base.get("refused") else cpu_per_msg(base)
    for prefix, name, _ in [("", "SecureChat", 0)] + PEERS:
        x = r.get(f"{prefix}_fanout{n}" if prefix else f"fanout{n}", {"refused": True})
        if x.get("refused"):
            continue
        c = cpu_per_msg(x)
        ratio = f"{c / base_cpu:.2f}×" if c and base_cpu else "—"
        lines.append(f"| {name} | {x['receivers']} | {server_core(x)} | {c:.0f} µs | {ratio} | {lat(x)} | {faults(x)} |"
                     if c else f"| {name} | {x['receivers']} | — | — | — | {lat(x)} | {faults(x)} |")
lines += [""]

lines += ["## Fan-out", "",
          "`fanout` at N = 10, then `max` at N = 100 and N = 1000: the rate grows by half each step until p99 "
          "passes 100 ms or messages are lost, or after 16 steps. A step where the generator's own core passed 80% "
          "measures the generator and is not counted, but the ladder goes on: a server that batches frames once "
          "it saturates costs the generator less per delivery, and the next step may measure it again. Where the server was the limit, one more "
          "step halfway (×1.22) between the last good rate and the failed one narrows the figure.", "",
          "| N receivers | offered msgs/s | deliveries/s | latency p50 / p99 / p99.9 / max (ms) | lost | generator core | server core |",
          "|---|---|---|---|---|---|---|"]
rows = []
if not r["fanout10"].get("refused"):
    rows.append(r["fanout10"])
for m in ("max100", "max1000"):
    if not r[m].get("refused"):
        rows += sorted(r[m]["steps"], key=lambda st: st["offered_rate"])
for s in rows:
    busy = s["generator_load"] * 100
    lines.append(f"| {s['receivers']} | {s['offered_rate']:.0f} | {s['deliveries_per_sec']:.0f} | {lat(s)} | {s['lost']} | "
                 f"{busy:.0f}%{' (saturated)' if busy > 80 else ''} | {server_core(s)} |")
lines += [""]
for m in ("max100", "max1000"):
    if not r[m].get("refused"):
        why = {"generator": "the step that broke p99 ≤ 100 ms had the generator's core saturated: the server's limit may be higher",
               "steps": "the step limit came first: the server's limit is higher",
               "server": "the next step broke p99 ≤ 100 ms or lost messages"}[r[m]["limit"]]
        lines.append(f"**Highest sustained at N = {r[m]['receivers']}** (p99 ≤ 100 ms, nothing lost): "
                     f"{r[m]['max_deliveries_per_sec']:.0f} deliveries/s; {why}.")
        lines.append("")
def best(key):
    x = r.get(key, {})
    return None if x.get("refused") else x["max_deliveries_per_sec"]


def p99_first(key):
    x = r.get(key, {})
    return None if x.get("refused") else x["steps"][0]["latency"]["p99_ms"]


def kept_up(st):
    return st["latency"]["p99_ms"] <= 100 and st["lost"] == 0


def first_failure(key):
    """Offered deliveries/s of the lowest counted step (generator at most
    80%) that failed, when steps between it and the figure were not counted:
    the server's limit is below it, so the figure understates the server."""
    x = r.get(key, {})
    if x.get("refused"):
        return None
    steps = x["steps"]
    fails = [st["offered_rate"] * st["receivers"] for st in steps
             if st["generator_load"] <= 0.8 and not kept_up(st)]
    if not fails:
        return None
    failed = min(fails)
    skipped = [st for st in steps if st["generator_load"] > 0.8 and kept_up(st)
               and x["max_deliveries_per_sec"] < st["deliveries_per_sec"] < failed]
    return failed if skipped else None


def capped(key):
    """Whether a `max` stopped before the server did: the generator's core
    saturated, or the step limit came while the server still kept up."""
    x = r.get(key, {})
    return not x.get("refused") and x["limit"] != "server"


lines += ["### Side by side", "",
          "Ratios are SecureChat's figure over the peer's. Where a server's run stopped before the server did "
          "(the step that failed had the generator's core saturated, or the last step still kept up), its figure is a floor (marked ≥), "
          "and the ratio is a floor or a ceiling accordingly. A server that batches frames under load (its p50 "
          "climbs) costs the generator less per delivery than one that sends each frame at once, so a "
          "generator-bound floor says little about the server.", "",
          "| | SecureChat | " + " | ".join(name for _, name, _ in PEERS) + " |",
          "|---|---|" + "---|" * len(PEERS)]
for n in ("100", "1000"):
    ours = best(f"max{n}")
    mark = "≥ " if capped(f"max{n}") else ""
    cells = []
    for prefix, _, target in PEERS:
        theirs = best(f"{prefix}_max{n}")
        tmark = "≥ " if capped(f"{prefix}_max{n}") else ""
        if ours and theirs:
            ratio = ours / theirs
            floor, ceiling = bool(mark), bool(tmark)  # what each generator-bound figure makes of the ratio
            bound = "≥ " if floor and not ceiling else "≤ " if ceiling and not floor else "~" if floor else ""
            if ratio >= target and not ceiling:
                verdict = "met"
            elif ratio < target and not floor:
                verdict = "not met"
            else:
                verdict = "undecided: generator-bound"
            shown = f"{bound}{ratio:.2f}×; " if not (floor and ratio < 1) else ""
            failed = first_failure(f"{prefix}_max{n}")
            if failed and not floor:
                # Its steps above the figure were not counted, but a counted one failed.
                shown = f"{ours / failed:.2f}–{ratio:.2f}×, as its limit is below {failed:.0f}, its first counted failure; "
                if ours / failed < target <= ratio:
                    verdict = "undecided: its limit lies in steps the generator could not count"
            cells.append(f"{tmark}{theirs:.0f} ({shown}target ≥ {target}×: {verdict})")
        else:
            cells.append(f"{tmark}{theirs:.0f}" if theirs is not None else "—")
    lines.append(f"| max deliveries/s, N = {n} | " + (f"{mark}{ours:.0f}" if ours is not None else "—") + " | "
                 + " | ".join(cells) + " |")
def ok_steps(key):
    x = r.get(key, {})
    if x.get("refused"):
        return {}
    return {st["offered_rate"]: st for st in x["steps"]
            if kept_up(st) and st.get("server_load")}


# The cost of the work, whoever saturates first: deliveries per second of
# server CPU, at the highest offered rate every server sustained.
for n in ("100", "1000"):
    keys = [f"max{n}"] + [f"{prefix}_max{n}" for prefix, _, _ in PEERS]
    common = set(ok_steps(keys[0]))
    for k in keys[1:]:
        if ok_steps(k):
            common &= set(ok_steps(k))
    if not common:
        continue
    rate = max(common)
    eff = lambda k: (lambda st: st["deliveries_per_sec"] / st["server_load"])(ok_steps(k)[rate]) if rate in ok_steps(k) else None
    ours = eff(keys[0])
    cells = []
    for (prefix, _, target), k in zip(PEERS, keys[1:]):
        theirs = eff(k)
        if theirs and ours:
            ratio = ours / theirs
            cells.append(f"{theirs:,.0f} (SecureChat {ratio:.2f}×; target ≥ {target}×: {'met' if ratio >= target else 'not met'})")
        else:
            cells.append("—")
    load_ = f"{rate * int(n):,.0f}"
    lines.append(f"| deliveries per server core-second at {load_}/s, N = {n} | {ours:,.0f} | " + " | ".join(cells) + " |")

for n, load_ in (("100", "10,000"), ("1000", "10,000")):
    ours = p99_first(f"max{n}")
    cells = []
    for prefix, _, _ in PEERS:
        theirs = p99_first(f"{prefix}_max{n}")
        cells.append(f"{theirs:.2f} ms" if theirs is not None else "—")
    lines.append(f"| p99 at {load_} deliveries/s, N = {n} | " + (f"{ours:.2f} ms" if ours is not None else "—")
                 + " | " + " | ".join(cells) + " |")
lines += ["", "A `max` figure is capped where the generator's own core saturated; see the steps above. "
          "Deliveries per server core-second divide each server's deliveries by the CPU time it used (its "
          "process tree, from /proc) over the same step: a ratio that does not depend on which side saturated "
          "first. Servers that batch under load grow more efficient as load grows, so it is compared at one "
          "common load. Where a target is missed, what was profiled and changed, with figures before and "
          "after, is in [PROFILE.md](PROFILE.md).", ""]


def verifiable(n):
    """The most deliveries/s one generator core can confirm at N = n, from
    the cheapest delivery it received in a counted step of any server's
    ladder (the 80% rule applied to its cost per delivery there)."""
    costs = [st["generator_load"] / st["deliveries_per_sec"]
             for k in [f"max{n}"] + [f"{p}_max{n}" for p, _, _ in PEERS] if not r.get(k, {}).get("refused")
             for st in r[k]["steps"]
             if st["generator_load"] <= 0.8 and kept_up(st)
             and st["deliveries_per_sec"] > 0]
    return 0.8 / min(costs) if costs else None


for n in ("100", "1000"):
    ours, ceiling = best(f"max{n}"), verifiable(n)
    if not ours or not ceiling:
        continue
    needs = [(name, target, target * best(f"{prefix}_max{n}")) for prefix, name, target in PEERS
             if best(f"{prefix}_max{n}") and ours < target * best(f"{prefix}_max{n}")]
    if needs:
        lines.append(f"**What one generator core can confirm, N = {n}.** Its cheapest delivery in a counted step of "
                     f"this run, whichever server sent it (the one sending most frames per write), puts 80% of its core at about {ceiling:,.0f} deliveries/s. "
                     + " ".join(f"The {target}× target against {name} needs {need:,.0f}"
                                f"{': more than this generator can confirm' if need > ceiling else ''}."
                                for name, target, need in needs))
        lines.append("")
for prefix, name, _ in PEERS:
    for n in ("max100", "max1000"):
        x = r[f"{prefix}_{n}"]
        if not x.get("refused"):
            lines += [f"{name}, N = {x['receivers']}:", "", "| offered msgs/s | deliveries/s | p50 / p99 / p99.9 / max (ms) | lost | generator core | server core |", "|---|---|---|---|---|---|"]
            for st in sorted(x["steps"], key=lambda st: st["offered_rate"]):
                lines.append(f"| {st['offered_rate']:.0f} | {st['deliveries_per_sec']:.0f} | {lat(st)} | {st['lost']} | {st['generator_load']*100:.0f}% | {server_core(st)} |")
            lines.append("")
lines += ["![latency against offered load](latency.svg)", ""]

lines += ["## Durable sends", "",
          "Each ack after its commit (`synchronous=FULL`, group commit). The target is 50,000 acked messages/s; "
          "how the send path was profiled and what changed: [PROFILE.md](PROFILE.md).", "",
          "| senders | in flight each | acked messages/s | send→ack p50 / p99 / p99.9 / max (ms) |", "|---|---|---|---|"]
for key in ("durable", "durable1"):
    d = r[key]
    if not d.get("refused"):
        lines.append(f"| {d['senders']} | {d['window']} | **{d['acked_per_sec']:.0f}** | {lat(d)} |")
lines += [""]
sl = r["slow"]
if not sl.get("refused"):
    w, wo = sl["runs_with"][0], sl["runs_without"][0]
    rounds = len(sl["runs_with"])
    p99s = lambda runs: ", ".join(f"{x['latency']['p99_ms']:.2f}" for x in runs)
    lost = lambda runs: sum(x["lost"] for x in runs)
    spread = lambda runs: max(x["latency"]["p99_ms"] for x in runs) / min(x["latency"]["p99_ms"] for x in runs)
    lines += ["## Slow consumer", "",
              f"Fan-out at N = {wo['receivers']}, {wo['offered_rate']:.0f} messages/s of about 4 KiB, in {rounds} "
              f"alternating rounds: as it is, then with {w['stalled']} more receiver that never reads (4 KiB TCP "
              f"receive buffer). The server cut them off: **{sl['stalled_cut']} of {sl['stalled']}** (close 1013; "
              "they would resume with `sync`). Two runs of the very same load differ in p99 by up to half on this "
              "machine, so the runs alternate, and every delivery of each kind is pooled into one histogram.", "",
              "| | others' p50 / p99 / p99.9 / max (ms), all runs pooled | p99 of each run (ms) | lost, all runs | server RSS peak |",
              "|---|---|---|---|---|",
              f"| without | {lat({'latency': sl['without']})} | {p99s(sl['runs_without'])} | {lost(sl['runs_without'])} | "
              f"{sl['server_rss_peak_without_kib'] / 1024:.1f} MiB |",
              f"| with a stalled receiver | {lat({'latency': sl['with_stalled']})} | {p99s(sl['runs_with'])} | {lost(sl['runs_with'])} | "
              f"{sl['server_rss_peak_with_kib'] / 1024:.1f} MiB |",
              "",
              f"Others' pooled p99 with it over without: **{sl['p99_ratio']:.2f}×** (target ≤ 1.10×: "
              f"{'met' if sl['p99_ratio'] <= 1.10 else 'not met'}). For scale, the runs without it alone spread "
              f"over {spread(sl['runs_without']):.2f}× in p99, and those with it over {spread(sl['runs_with']):.2f}×. "
              "Memory stays bounded: a stalled connection holds at most `outbound_queue` (1024) frames before it "
              "is cut.", ""]
c = r["connect"]
if not c.get("refused"):
    us = lambda p: f"{p['server_us_per_connect']:.0f} µs" if p.get("server_us_per_connect") else "—"
    lines += ["## Connects", "",
              f"{c['concurrency']} at a time, each a TCP connect, TLS 1.3 handshake, WebSocket upgrade, session check "
              "and `welcome`: first with full handshakes (the client keeps no TLS session), then resuming the TLS "
              "session each time, as a reconnecting client does. The handshake counts are what TLS reported for "
              "each connection.", "",
              "| handshakes | connects/s | p50 / p99 / p99.9 / max (ms) | full / resumed | server CPU per connect | failed |",
              "|---|---|---|---|---|---|"]
    for name in ("full", "resumed"):
        p = c[name]
        lines.append(f"| {name} | **{p['connects_per_sec']:.0f}** | {lat(p)} | {p['full_handshakes']} / "
                     f"{p['resumed_handshakes']} | {us(p)} | {p['failed']} |")
    lines += [""]
g = r["logins"]
if not g.get("refused"):
    w0, w1 = g["live_without"], g["live_with"]
    lines += ["## Login storm", "",
              f"{g['clients']} loops, an account each, log in over HTTPS as fast as they are answered (each login an "
              f"argon2id check, on the server's password thread), while a room of N = {w0['receivers']} gets "
              f"{w0['offered_rate']:.0f} messages/s: **{g['logins_per_sec']:.1f} logins/s**, login p50 / p99 / p99.9 / max "
              f"{lat({'latency': g['login_latency']})} ms; {g['throttled']} attempts were told to slow down (they all "
              f"come from one address, and the login throttle counts an attempt before its password is checked), "
              f"{g['failed']} failed.", "",
              "| live traffic | p50 / p99 / p99.9 / max (ms) | lost / dup / order / corrupt | server core |", "|---|---|---|---|",
              f"| without the storm | {lat(w0)} | {faults(w0)} | {server_core(w0)} |",
              f"| with the storm | {lat(w1)} | {faults(w1)} | {server_core(w1)} |", ""]
s = r["storm"]
if not s.get("refused"):
    lines += ["## Reconnect storm", "",
              f"{s['clients']} clients cut at once, {s['missed']} messages posted meanwhile, all reconnect and `sync`: "
              f"**all caught up in {s['caught_up_secs']:.2f} s**; lost {s['lost']}, duplicated {s['duplicated']} "
              f"({s['retried_connects']} connects retried after the per-address cap).", ""]
i = r["idle"]
if not i.get("refused"):
    lines += ["## Idle connections", "",
              f"{i['connections']} authenticated wss:// connections: server RSS {i['server_rss_before_kib']} → "
              f"{i['server_rss_after_kib']} KiB, **{i['server_kib_per_connection']:.1f} KiB per connection** "
              f"(target ≤ 16 KiB); kernel {i['kernel_kib_per_connection']:.1f} KiB per connection (both ends of the "
              "loopback socket).", ""]
sweep = []
for k in (1000, 5000, 10000):
    try:
        x = load(f"idle_fresh{k}")
    except OSError:
        continue
    if not x.get("refused"):
        sweep.append(x)
if sweep:
    lines += ["**From a fresh process**, K connections each time (a new server for each K), so that the figure per "
              "connection is a slope, not one point:", "",
              "| K | server RSS before → after (KiB) | KiB per connection | kernel KiB per connection |", "|---|---|---|---|"]
    for x in sweep:
        lines.append(f"| {x['connections']} | {x['server_rss_before_kib']} → {x['server_rss_after_kib']} | "
                     f"{x['server_kib_per_connection']:.1f} | {x['kernel_kib_per_connection']:.1f} |")
    lines.append("")
    if len(sweep) >= 2:
        ks = [x["connections"] for x in sweep]
        ys = [x["server_rss_after_kib"] for x in sweep]
        mk, my = sum(ks) / len(ks), sum(ys) / len(ys)
        slope = sum((k - mk) * (y - my) for k, y in zip(ks, ys)) / sum((k - mk) ** 2 for k in ks)
        lines += [f"Least-squares slope of RSS over K: **{slope:.1f} KiB per idle connection** "
                  f"(intercept {my - slope * mk:,.0f} KiB).", ""]
lines += ["Raw figures: `bench/results/*.json`; the exact commands are in `bench/run`.", ""]
with open(md_path, "w") as f:
    f.write("\n".join(lines))

# Chart: p99 latency against offered load, one line per N.
series = []
for k, (prefix, name, _) in enumerate([("", "SecureChat", 0)] + PEERS):
    for m in ("max100", "max1000"):
        key = f"{prefix}_{m}" if prefix else m
        x = r.get(key, {"refused": True})
        if not x.get("refused"):
            series.append((k, m == "max1000", f"{name.replace('`', '')} N={x['receivers']}",
                           sorted((st["offered_rate"] * st["receivers"], st["latency"]["p99_ms"]) for st in x["steps"])))
W, H, L, B = 640, 400, 70, 50
xs = [x for *_, pts in series for x, _ in pts] or [1]
# Offered load on a log scale; p99 drawn up to 200 ms, points above clipped
# to the top edge.
import math
xmin, xmax, ymax = 5000, max(xs) * 1.2, 200
sx = lambda x: L + math.log(max(x, xmin) / xmin) / math.log(xmax / xmin) * (W - L - 20)
sy = lambda y: H - B - min(y, ymax) / ymax * (H - B - 20)
colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{W/2}" y="{H-10}" text-anchor="middle">offered deliveries/s (rate × N, log scale)</text>',
       f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">p99 latency (ms)</text>',
       f'<line x1="{L}" y1="{sy(100)}" x2="{W-20}" y2="{sy(100)}" stroke="#999" stroke-dasharray="4"/>',
       f'<text x="{W-22}" y="{sy(100)-4}" text-anchor="end" fill="#666">100 ms</text>']
for k in range(6):
    x, y = xmin * (xmax / xmin) ** (k / 5), ymax * k / 5
    svg.append(f'<text x="{sx(x)}" y="{H-B+16}" text-anchor="middle">{x:.0f}</text>')
    svg.append(f'<text x="{L-6}" y="{sy(y)+4}" text-anchor="end">{y:.0f}</text>')
# One colour per server; N = 1000 dashed.
for n, (k, dashed, name, pts) in enumerate(series):
    c = colors[k % len(colors)]
    dash = ' stroke-dasharray="6 3"' if dashed else ""
    svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="' +
               " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts) + '"/>')
    svg.append(f'<text x="{L+10}" y="{30+16*n}" fill="{c}">{name}</text>')
svg.append("</svg>")
with open(svg_path, "w") as f:
    f.write("\n".join(svg))
