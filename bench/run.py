#!/usr/bin/env python3
"""Tapedeck beside its anchors, every figure in one run on this machine.

    .venv/bin/python bench/run.py [--runs 3] [--secs 6] [--no-write]
    .venv/bin/python bench/run.py --smoke      # one short pass of everything; CI runs this
    .venv/bin/python bench/run.py --density [--before OLD_BINARY]   # sessions per machine
    .venv/bin/python bench/run.py --security   # security tests beside sqlmap and dalfox

Prints Markdown tables and, unless --smoke or --no-write, rewrites the figures section of
BENCHMARKS.md (between its `bench:figures` markers) with them, the command, date and machine:
1. recorder CPU: Tapedeck, kernel-images' ffmpeg arguments, x264 ultrafast and Playwright
   `recordVideo`, on a static and a busy page at 10 and 25 fps (with the size of each video);
2. stop → downloadable latency after 10 s, 60 s and 300 s, against kernel-images' stop method;
3. capacity: 8 static and 4 busy sessions recorded at once, and the frames each video kept;
4. MiB per minute on the static page, from a minute of video by every recorder at once;
5. create → CDP-connectable latency, cold and from the warm pool;
6. recording proxies (nginx upstream; wrk and oha): HTTP and HTTPS throughput, new HTTPS
   connections per second, latency at a fixed rate: direct, Tapedeck, `mitmdump -w`;
7. quality held equal: each recorder's encoder settings on the same lossless captures (SSIM,
   PSNR, size, encode CPU; stills of the text page under target/quality/).
Two parts run on their own and write their own sections: `--density` searches for the most
sessions recorded at once, Tapedeck beside kernel-images' arguments, and measures memory per
session (`bench:density`); `--security` runs Tapedeck's security tests on
tests/e2e/vulnerable_app.py beside sqlmap (SQLi) and dalfox (XSS): found, missed, false
positives, requests and wall time (`bench:security`). Smoke mode runs one short pass of each.
The 300 s recordings run in the background while the CPU scenarios run (all CPU figures are
per process, so they are not charged for it). Full run: about 12 minutes on 2 cores.
"""

import argparse
import datetime
import statistics
import tempfile
import time
from pathlib import Path

import capacity
import density
import latency
import proxy
import quality
import security
import size
from common import ROOT, Server, kiosk_session, machine, rewrite_section, summary
from recorders import FfmpegAnchor, Playwright, Tapedeck, kernel_args, ultrafast_args

# Every recorder at the x264 default quality (CRF 23), so sizes compare at the same setting.
CRF = 23


def scenarios(smoke: bool):
    """(page, fps, anchors) in the order they run."""
    if smoke:
        return [("static", 10, ["kernel-images args", "x264 ultrafast", "Playwright recordVideo"])]
    return [
        ("static", 10, ["kernel-images args", "Playwright recordVideo"]),
        ("static", 25, ["kernel-images args", "x264 ultrafast", "Playwright recordVideo"]),
        ("busy", 10, ["kernel-images args"]),
        ("busy", 25, ["x264 ultrafast", "kernel-images args", "Playwright recordVideo"]),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median, min–max)")
    parser.add_argument("--secs", type=float, default=6, help="CPU window per recorder run")
    parser.add_argument("--smoke", action="store_true", help="one short pass, to keep the harness working")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--density", action="store_true",
                        help="only the density search and memory per session (bench/density.py), on its own")
    parser.add_argument("--security", action="store_true",
                        help="only the security tests beside sqlmap and dalfox (bench/security.py), on their own")
    parser.add_argument("--before", help="with --density: a tapedeck binary of an earlier build, whose "
                                         "default memory per session is measured beside this one's")
    args = parser.parse_args()
    if args.density:
        density.run(10, smoke=False, write=not args.no_write, before=args.before)
        return
    if args.security:
        security.run(smoke=False, write=not args.no_write)
        return
    smoke = args.smoke
    if smoke:
        args.runs, args.secs = 1, 2
    lengths = (3,) if smoke else (10, 60, 300)
    begun = time.monotonic()
    out = []

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = Server(work / "server", max_sessions=16, first_display=170,
                        extra_args=["--warm-pool", "1", "--video-crf", str(CRF)]).start()
        playwright = Playwright(work, 199)
        try:
            sessions = {page: kiosk_session(server, f"{page}.html") for page in ("static", "busy")}
            tapedeck = Tapedeck(server)
            anchors = {"kernel-images args": FfmpegAnchor("kernel-images args", kernel_args, work),
                       "x264 ultrafast": FfmpegAnchor("x264 ultrafast", ultrafast_args, work),
                       "Playwright recordVideo": playwright}
            # The longest stop-latency recordings run in the background from the start.
            runs_for = {length: (args.runs, args.runs if length < 300 else 1) for length in lengths}
            longest = max(lengths)
            background = latency.StopBatch(server, sessions["busy"], work, longest, *runs_for[longest])

            cpu = {}
            for page, fps, names in scenarios(smoke):
                cpu[(page, fps)] = {"Tapedeck": []} | {name: [] for name in names}
                for _ in range(args.runs):
                    cpu[(page, fps)]["Tapedeck"].append(tapedeck.record(sessions[page], fps, args.secs))
                    for name in names:
                        target = f"{page}.html" if name == "Playwright recordVideo" else sessions[page]
                        cpu[(page, fps)][name].append(anchors[name].record(target, fps, args.secs))
                print(f"[{time.monotonic() - begun:4.0f} s] recorder CPU: {page} {fps} fps", flush=True)

            size_secs = 3 if smoke else 60
            minute = {fps: size.minute_sizes(sessions["static"],
                                             [tapedeck, anchors["kernel-images args"], anchors["x264 ultrafast"]],
                                             playwright, fps, size_secs)
                      for fps in (10, 25)}
            print(f"[{time.monotonic() - begun:4.0f} s] size over a minute", flush=True)

            stops = {longest: background.finish()}
            # One length at a time: recorders of another batch would load the 2 cores.
            for length in lengths[:-1]:
                stops[length] = latency.StopBatch(server, sessions["busy"], work, length, *runs_for[length]).finish()
            print(f"[{time.monotonic() - begun:4.0f} s] stop latency", flush=True)

            for s in sessions.values():
                server.native("DELETE", f"/sessions/{s.id}")
            recorders = [tapedeck, anchors["kernel-images args"]]
            cap_secs = 3 if smoke else 10
            caps = {("static", 10): capacity.capacity(server, recorders, "static", 2 if smoke else 8, 10, cap_secs),
                    ("busy", 25): capacity.capacity(server, recorders, "busy", 1 if smoke else 4, 25, cap_secs)}
            print(f"[{time.monotonic() - begun:4.0f} s] capacity", flush=True)

            cold, warm = latency.create_latency(server, 1 if smoke else 5)
            print(f"[{time.monotonic() - begun:4.0f} s] create latency", flush=True)

            quality_secs = 2 if smoke else 10
            qualities = quality.measure(server, work, quality_secs, ROOT / "target" / "quality")
            print(f"[{time.monotonic() - begun:4.0f} s] quality", flush=True)

            # Two rounds at most: the proxies' loads run 2.5 minutes a round.
            proxy_secs, latency_secs, rate = (2, 2, 100) if smoke else (5, 10, 500)
            proxy_runs = min(args.runs, 2)
            proxies = proxy.proxies(work, proxy_secs, latency_secs, rate, proxy_runs)
            print(f"[{time.monotonic() - begun:4.0f} s] proxies", flush=True)

            if smoke:
                security.run(smoke=True, write=False)
                print(f"[{time.monotonic() - begun:4.0f} s] security tests", flush=True)
                density.run(2, smoke=True, write=False)
                print(f"[{time.monotonic() - begun:4.0f} s] density (one step)", flush=True)
        finally:
            playwright.close()
            server.stop()

    minutes = (time.monotonic() - begun) / 60
    out += cpu_table(cpu, args.runs)
    out += stop_table(stops, runs_for)
    out += capacity_table(caps, cap_secs)
    out += size_table(minute, size_secs)
    out += create_table(cold, warm)
    out += proxy_table(proxies, proxy_secs, latency_secs, rate, proxy_runs)
    out += quality.table(qualities, quality_secs)
    out += targets_table(cpu, minute, stops, caps, cold, warm)
    text = "\n".join(out)
    print(text)
    if not (smoke or args.no_write):
        write_figures(text, args, minutes)


def ratio(ours, theirs):
    return ours / theirs if theirs > 0 else float("inf")


def cpu_table(cpu, runs):
    rows = ["### 1. Recorder CPU (and the size of these short videos)", "",
            f"| page | fps | recorder | CPU, % of a core ({runs} runs) | MiB/min of the window | frames/s in the video | Tapedeck ÷ this (CPU) |",
            "|---|---|---|---|---|---|---|"]
    for (page, fps), results in cpu.items():
        ours = statistics.median(s.cpu for s in results["Tapedeck"])
        for name, samples in results.items():
            theirs = statistics.median(s.cpu for s in samples)
            rows.append(f"| {page} | {fps} | {name} | {summary([s.cpu for s in samples], lambda v: f'{v:.1f} %')} "
                        f"| {summary([s.mib_per_min for s in samples], lambda v: f'{v:.2f}')} "
                        f"| {summary([s.video['frames'] / s.video['duration'] for s in samples], lambda v: f'{v:.1f}')} "
                        f"| {ratio(ours, theirs):.2f}× |")
    return rows + [""]


def stop_table(stops, runs_for):
    rows = ["### 2. Stop → downloadable (busy page, 10 fps)", "",
            "| recording length | Tapedeck p50 / p95 | kernel-images: SIGINT, wait, `-c copy +faststart` remux, p50 / p95 | runs (ours / theirs) |",
            "|---|---|---|---|"]
    for length, (ours, theirs) in sorted(stops.items()):
        rows.append(f"| {length:g} s | {latency.describe(ours)} | {latency.describe(theirs)} "
                    f"| {runs_for[length][0]} / {runs_for[length][1]} |")
    return rows + [""]


def capacity_table(caps, secs):
    rows = [f"### 3. Capacity: sessions recorded at once for {secs} s", "",
            "| sessions | recorder | kept per video (min, median) |", "|---|---|---|"]
    for (page, fps), results in caps.items():
        for name, fractions in results.items():
            what = "changes (fps × duration)" if page == "busy" else "clock changes (1 per second)"
            rows.append(f"| {len(fractions)} {page} at {fps} fps | {name} | {capacity.describe(fractions)} of {what} |")
    return rows + [""]


def size_table(minute, secs):
    rows = [f"### 4. MiB per minute, static page ({secs:g} s of video, every recorder at once, 1 run)", "",
            "| fps | recorder | MiB/min | frames/s in the video | Tapedeck ÷ this |", "|---|---|---|---|---|"]
    for fps, sizes in minute.items():
        ours = sizes["Tapedeck"][0]
        for name, (mib, frames) in sizes.items():
            rows.append(f"| {fps} | {name} | {mib:.3f} | {frames:.1f} | {ratio(ours, mib):.2f}× |")
    return rows + [""]


def create_table(cold, warm):
    return ["### 5. Create → CDP answers (Browser.getVersion through the relay)", "",
            f"| start | p50 / p95 ({len(cold)} runs) |", "|---|---|",
            f"| cold (Xvfb + Chromium started for the request) | {latency.describe(cold)} |",
            f"| warm pool (`--warm-pool 1`) | {latency.describe(warm)} |", ""]


def proxy_table(results, secs, latency_secs, rate, runs):
    rows = [f"### 6. Recording proxies (nginx upstream; {secs:g} s per load, latency over {latency_secs:g} s; {runs} runs)", "",
            "Throughput at 32 connections (wrk for HTTP, oha for HTTPS through `CONNECT`), the proxy's own CPU,",
            "and the baselines Tapedeck kept against the requests nginx served while it ran.", "",
            "| load | mode | req/s | ÷ direct | Tapedeck ÷ this | proxy CPU ms per 1,000 requests | recorded / served |",
            "|---|---|---|---|---|---|---|"]
    scenarios = list(dict.fromkeys(scenario for scenario, _ in results))
    for scenario in (s for s in scenarios if "req/s" not in s):
        direct = statistics.median(s.rps for s in results[(scenario, proxy.DIRECT)])
        ours = statistics.median(s.rps for s in results[(scenario, proxy.TAPEDECK)])
        for mode in proxy.MODES:
            samples = results[(scenario, mode)]
            rps = statistics.median(s.rps for s in samples)
            cpu = [s.cpu_per_1000 for s in samples if s.cpu_per_1000 is not None]
            kept = [f"{s.recorded} / {s.served}" for s in samples if s.recorded is not None]
            rows.append(f"| {scenario} | {mode} | {summary([s.rps for s in samples], lambda v: f'{v:.0f}')} "
                        f"| {rps / direct:.2f}× | {ratio(ours, rps):.2f}× "
                        f"| {summary(cpu, lambda v: f'{v:.0f}') if cpu else '–'} | {', '.join(kept) or '–'} |")
    rows += ["", f"Open loop at {rate} req/s (oha, latency corrected for coordinated omission), 1 KiB answers:", "",
             "| load | mode | p50 ms | p99 ms | p99.9 ms | added p99 ms | recorded / served |", "|---|---|---|---|---|---|---|"]
    for scenario in (s for s in scenarios if "req/s" in s):
        direct99 = statistics.median(s.p99_ms for s in results[(scenario, proxy.DIRECT)])
        for mode in proxy.MODES:
            samples = results[(scenario, mode)]
            med = lambda key: statistics.median(getattr(s, key) for s in samples)  # noqa: E731
            kept = [f"{s.recorded} / {s.served}" for s in samples if s.recorded is not None]
            rows.append(f"| {scenario} | {mode} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {med('p999_ms'):.2f} "
                        f"| {med('p99_ms') - direct99:.2f} | {', '.join(kept) or '–'} |")
    return rows + [""]


def targets_table(cpu, minute, stops, caps, cold, warm):
    def med(page, fps, name):
        samples = cpu.get((page, fps), {}).get(name)
        return statistics.median(s.cpu for s in samples) if samples else None

    rows = ["### Targets", "", "| target | this run | met? |", "|---|---|---|"]

    def check(label, value, goal, fmt="{:.2f}×"):
        if value is None:
            return
        rows.append(f"| {label} | {fmt.format(value)} | {'yes' if value <= goal else 'no'} |")

    for fps in (10, 25):
        ours = med("static", fps, "Tapedeck")
        for name, goal, label in (("kernel-images args", 0.3, "≤ 0.3×"), ("Playwright recordVideo", 1.0, "≤ 1.0×")):
            theirs = med("static", fps, name)
            if ours is not None and theirs is not None:
                check(f"static page, {fps} fps: CPU {label} {name}", ratio(ours, theirs), goal)
    ours = med("busy", 25, "Tapedeck")
    for name, goal, label in (("x264 ultrafast", 1.0, "≤ 1.0×"), ("Playwright recordVideo", 0.15, "≤ 0.15×")):
        theirs = med("busy", 25, name)
        if ours is not None and theirs is not None:
            check(f"busy page, 25 fps: CPU {label} {name}", ratio(ours, theirs), goal)
    for fps, sizes in minute.items():
        check(f"static page, {fps} fps: MiB/min ≤ kernel-images args (both CRF {CRF}, table 4)",
              ratio(sizes["Tapedeck"][0], sizes["kernel-images args"][0]), 1.0)
    busy = caps.get(("busy", 25), {}).get("Tapedeck")
    if busy:
        rows.append(f"| {len(busy)} busy sessions at 25 fps: ≥ 95 % of frames (visible changes) kept in every video "
                    f"| {100 * min(busy):.0f} % (lowest) | {'yes' if min(busy) >= 0.95 else 'no'} |")
    worst = max(latency.p95(ours) for ours, _ in stops.values())
    rows.append(f"| stop → downloadable p95 ≤ 300 ms at every length | {worst * 1000:.0f} ms (worst p95) "
                f"| {'yes' if worst <= 0.3 else 'no'} |")
    if len(stops) > 1:
        first, last = min(stops), max(stops)
        growth = statistics.median(stops[last][0]) / statistics.median(stops[first][0])
        theirs = statistics.median(stops[last][1]) / statistics.median(stops[first][1])
        rows.append(f"| stop flat from {first:g} s to {last:g} s | p50 ×{growth:.2f} (kernel-images ×{theirs:.2f}) "
                    f"| {'yes' if growth <= 1.5 else 'no'} |")
    check("create, cold: p50 ≤ 1 s", statistics.median(cold), 1.0, "{:.2f} s")
    check("create, warm pool: p50 ≤ 150 ms", statistics.median(warm), 0.150, "{:.3f} s")
    return rows + [""]


def write_figures(text: str, args, minutes: float):
    header = (f"Command: `.venv/bin/python bench/run.py --runs {args.runs} --secs {args.secs:g}` "
              f"(took {minutes:.1f} min). Date: {datetime.date.today().isoformat()}.  \n"
              f"Machine: {machine()}.  \nEach figure is the median of {args.runs} runs with min–max beside it, "
              f"unless the row says otherwise.\n")
    rewrite_section("figures", header, text)


if __name__ == "__main__":
    main()
