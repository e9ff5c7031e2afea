"""Turns one bench/run.sh results file (JSON lines from the load generator) into the
comparison table, and puts it into BENCHMARKS.md between its markers."""
import json
import os
import platform
import subprocess
import sys

P99_LIMIT_MS = 25.0
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
NAMES = {
    "chat": "this chat (stores every message, accounts, JSON)",
    "socketio": "socket.io 4 on Node",
    "channels": "Django Channels 4 + Daphne, in-memory layer",
    "bare": "bare axum broadcast (floor: no storage, no auth, no JSON)",
}


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}, Node {node}, Python {platform.python_version()}"


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def rounds_of(steps):
    """Splits one stack's ramp steps into its rounds: a round starts again at a lower
    rate (so RATES must rise, as bench/run.sh's do)."""
    rounds, last = [], None
    for step in steps:
        if last is None or step["rate_per_sender"] <= last:
            rounds.append({})
        rounds[-1][step["rate_per_sender"]] = step
        last = step["rate_per_sender"]
    return rounds


def ramp_summary(steps):
    """Per rate: the median over rounds of p99 and of deliveries/s. A round that
    stopped before a rate counts as over the limit there."""
    rounds = rounds_of(steps)
    by_rate = []
    for rate in sorted({s["rate_per_sender"] for s in steps}):
        got = [r.get(rate) for r in rounds]
        p99s = [g["p99_ms"] if g else float("inf") for g in got]
        done = [g for g in got if g]
        by_rate.append(dict(
            rate=rate,
            p99_ms=median(p99s),
            deliveries_per_sec=median([g["deliveries_per_sec"] for g in done]),
            clean=all(g["lost"] == 0 and g["duplicated"] == 0 for g in done),
            rounds=len(rounds),
        ))
    return rounds, by_rate


def lossy_summary(steps):
    """Where a stack lost or repeated messages: from which offered rate, and the worst share."""
    if not steps:
        return "none"
    lowest = min(x["offered_deliveries_per_sec"] for x in steps)
    worst = max(steps, key=lambda x: (x["lost"] + x["duplicated"]) / max(x["expected"], 1))
    share = (worst["lost"] + worst["duplicated"]) / max(worst["expected"], 1)
    return (f"from {lowest:,.0f}/s offered, in {len(steps)} step{'s' if len(steps) > 1 else ''} over all rounds; worst {share:.0%} "
            f"({worst['lost']:,} lost, {worst['duplicated']:,} repeated at {worst['offered_deliveries_per_sec']:,.0f}/s)")


def main(results_path, benchmarks_path):
    runs = [json.loads(line) for line in open(results_path) if line.startswith("{")]
    rows, steps_of = {}, {}
    for stack in NAMES:
        steps = [r for r in runs if r.get("scenario") == "room" and r.get("stack") == stack and r.get("rooms") == 1]
        rounds, by_rate = ramp_summary(steps)
        ok = [r for r in by_rate if r["p99_ms"] <= P99_LIMIT_MS and r["clean"]]
        best = max(ok, key=lambda r: r["deliveries_per_sec"], default=None)
        peak = max(steps, key=lambda r: r["deliveries_per_sec"], default=None)
        # Each round's own best, to show the spread behind the median.
        per_round = []
        for r in rounds:
            fine = [s for s in r.values() if s["p99_ms"] <= P99_LIMIT_MS and s["lost"] == 0 and s["duplicated"] == 0]
            per_round.append(max((s["deliveries_per_sec"] for s in fine), default=0))
        idle = next((r for r in runs if r.get("scenario") == "idle" and r.get("stack") == stack), None)
        lossy = [r for r in steps if r["lost"] or r["duplicated"]]
        steps_of[stack] = steps
        rows[stack] = dict(best=best, peak=peak, idle=idle, lossy=lossy, per_round=per_round)

    def rate(stack):
        best = rows[stack]["best"]
        return best["deliveries_per_sec"] if best else 0

    rounds = max((len(r["per_round"]) for r in rows.values()), default=1)
    lines = [START, "", f"Measured by `./bench/run.sh` on {machine()}; load generator and server on the same machine.",
             f"The one-room ramp ran {rounds} round{'s' if rounds > 1 else ''}, the stacks taking turns; a rate counts when the median of its rounds' p99 is within 25 ms and no round lost or repeated a message.", ""]
    lines.append("| stack | deliveries/s at p99 ≤ 25 ms | saturation (peak delivered in any round) | idle memory per connection | connects | lost or duplicated |")
    lines.append("|---|---|---|---|---|---|")
    for stack, name in NAMES.items():
        r = rows[stack]
        best = f"{r['best']['deliveries_per_sec']:,.0f} (median p99 {r['best']['p99_ms']} ms)" if r["best"] else "none"
        if len(r["per_round"]) > 1:
            best += " [rounds: " + ", ".join(f"{x:,.0f}" if x else "none" for x in r["per_round"]) + "]"
        peak = f"{r['peak']['deliveries_per_sec']:,.0f}" if r["peak"] else "n/a"
        top = max((s["rate_per_sender"] for s in steps_of[stack]), default=None)
        if r["peak"] and r["peak"]["rate_per_sender"] == top and r["peak"]["deliveries_per_sec"] >= 0.98 * r["peak"]["offered_deliveries_per_sec"]:
            peak = "at least " + peak + " (all it was offered, at the highest rate tried; the ramp stops once p99 is over the limit twice)"
        idle = r["idle"]
        mem = f"{idle['bytes_per_connection'] / 1024:.1f} KiB" if idle else "n/a"
        conn = f"{idle['connections']:,} in {idle['connect_s']:.1f} s" if idle else "n/a"
        lossy = lossy_summary(r["lossy"])
        lines.append(f"| {name} | {best} | {peak} | {mem} | {conn} | {lossy} |")
    lines.append("")
    ours = rate("chat")
    for peer in ("socketio", "channels", "bare"):
        theirs = rate(peer)
        ratio = f"{ours / theirs:.2f}x" if theirs else "∞ (the peer met the limit at no rate)"
        lines.append(f"- this chat vs {NAMES[peer]}: {ratio} the deliveries/s at p99 ≤ 25 ms")
    for r in runs:
        if r.get("scenario") == "room" and r.get("rooms", 1) > 1:
            stored = r["deliveries_per_sec"] / max(r["members"], 1)
            lines.append(f"- {NAMES.get(r.get('stack'), r.get('stack'))}: {r['rooms']:,} rooms x {r['members']} members, {r['rate_per_sender']}/s per room: {stored:,.0f} messages/s, {r['deliveries_per_sec']:,.0f} deliveries/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, lost {r['lost']}, duplicated {r['duplicated']}")
        if r.get("scenario") == "idle_left":
            lines.append(f"- {NAMES.get(r['stack'], r['stack'])}: after {r['connections']:,} idle connections left, server RSS {r['rss_left_bytes'] / 2**20:.1f} MiB ({r['left_over_start_pct']:+.0f}% of the {r['rss_before_bytes'] / 2**20:.1f} MiB before; {r['rss_peak_bytes'] / 2**20:.1f} MiB with them)")
        if r.get("scenario") == "crowd":
            lines.append(f"- one room of {r['members']:,} signed-in members (this chat): joined in {r['join_s']:.2f} s, {r['bytes_per_member'] / 1024:.2f} KiB each; {r['messages']} message(s) to all of them: p50 {r['delivery_p50_ms']} ms, p99 {r['delivery_p99_ms']} ms, last {r['delivery_max_ms']} ms; server RSS {r['rss_start_bytes'] / 2**20:.1f} -> {r['rss_joined_bytes'] / 2**20:.1f} MiB, {r['rss_left_bytes'] / 2**20:.1f} MiB after they left ({(r['rss_left_bytes'] / max(r['rss_start_bytes'], 1) - 1) * 100:+.0f}%)")
        if r.get("scenario") == "wasm":
            lines.append(f"- the room page's release WASM: {r['raw_bytes']:,} B, {r['gzip_bytes']:,} B gzip -9, {r['brotli_bytes']:,} B brotli 9")
        if r.get("scenario") == "tti":
            lines.append(f"- the room page in Chromium ({r['network']}, CPU {r['cpu_slowdown']}x slower, median of {r['runs']}): first paint {r['median_first_paint_ms']} ms, hydrated {r['median_hydrated_ms']} ms, live {r['median_live_ms']} ms, {r['median_bytes']:,} bytes fetched")
        if r.get("scenario") == "storm":
            lines.append(f"- reconnect storm: {r['clients']:,} clients missed {r['missed_each']} messages each and came back at once: all caught up in {r['caught_up_s']:.3f} s, lost {r['lost']}, duplicated {r['duplicated']}")
        if r.get("scenario") == "pages":
            who = f"signed in, {r['listed']} other rooms listed" if r.get("listed") else "signed out"
            lines.append(f"- room page with {r['messages']} messages, {who}, {r['concurrency']} clients at once (new connection each): {r['per_sec']:,.0f} pages/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    lines += ["", f"Raw results: `{os.path.relpath(results_path)}`.", "", END]
    block = "\n".join(lines)

    text = open(benchmarks_path).read() if os.path.exists(benchmarks_path) else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Against the peers (issue 5)\n\n" + block + "\n"
    open(benchmarks_path, "w").write(text)
    print(block)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
