#!/usr/bin/env python3
"""Quality held equal: each recorder's encoder settings on the same lossless captures.

    .venv/bin/python bench/quality.py [--secs 10] [--out target/quality]

1. Captures `secs` of the busy page and of a long text page being scrolled, once, losslessly
   (x11grab at 25 fps into FFV1) from a Tapedeck kiosk session's display.
2. Encodes both captures with each setting: Tapedeck's recorder at 10 and 25 fps (its default
   CRF 28, its presets by frame rate, zerolatency), kernel-images' arguments (libx264 defaults,
   CRF 23), x264 `ultrafast` (CRF 23), and Playwright's VP8 settings.
3. Reports each encode's CPU seconds, MiB, and SSIM and PSNR against the lossless source (a 10
   fps encode is shown at 25 fps by repeating frames, as a player would; its SSIM against the
   source sampled at 10 fps is given too, its picture apart from its rate), and keeps the frame
   at 5 s of the text page from each encode as a PNG under `--out` for a person to look at.
Prints a Markdown table and which settings are on the Pareto front (no other setting both
cheaper and better at a size within 10 %).
"""

import argparse
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, Server, kiosk_session, machine

TAPEDECK_CRF = 28  # the server's default --video-crf


def tapedeck(fps: int) -> list:
    """Tapedeck's recorder's x264 settings at `fps` (crates/capture/src/recorder.rs)."""
    speed = (["-preset", "ultrafast", "-x264-params", "partitions=i4x4"] if fps > 15 else ["-preset", "veryfast"])
    return ["-vf", f"fps={fps}", "-c:v", "libx264", *speed, "-tune", "zerolatency", "-crf", str(TAPEDECK_CRF),
            "-pix_fmt", "yuv420p", "-threads", "1"]


SETTINGS = {
    "Tapedeck 10 fps": (tapedeck(10), "mp4"),
    "Tapedeck 25 fps": (tapedeck(25), "mp4"),
    "kernel-images args (25 fps)": (["-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p"], "mp4"),
    "x264 ultrafast (25 fps)": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], "mp4"),
    "Playwright VP8 (25 fps)": (["-c:v", "vp8", "-qmin", "0", "-qmax", "50", "-crf", "8", "-deadline", "realtime",
                                 "-speed", "8", "-b:v", "1M", "-pix_fmt", "yuv420p"], "webm"),
}


def capture(display: str, secs: float, out: Path):
    """`secs` of `display` as lossless FFV1 at a constant 25 fps: x11grab stamps frames with the
    wall clock, so the grab is made constant-rate before anything is compared frame by frame."""
    grab = out.with_suffix(".grab.mkv")
    ffv1 = ["-c:v", "ffv1", "-level", "3", "-slices", "4", "-threads", "2"]
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-f", "x11grab", "-framerate", "25", "-video_size", "1280x720",
                    "-i", display, "-t", str(secs), *ffv1, "-y", str(grab)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(grab), "-vf", "fps=25", *ffv1, "-y", str(out)],
                   check=True)
    grab.unlink()


def encode(source: Path, args: list, out: Path) -> float:
    """Encodes `source` with `args`; returns ffmpeg's CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(source), *args, "-an", "-y", str(out)], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(encoded: Path, source: Path, fps: int = 25) -> tuple[float, float]:
    """(SSIM, PSNR dB) of `encoded` against `source`, frame for frame, both sampled at `fps`."""
    graph = f"[0:v]fps={fps},format=yuv420p[e];[1:v]fps={fps},format=yuv420p,split[s1][s2];[e]split[e1][e2];" \
            "[e1][s1]ssim;[e2][s2]psnr"
    out = subprocess.run(["ffmpeg", "-nostdin", "-i", str(encoded), "-i", str(source), "-lavfi", graph,
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    ssim = float(re.search(r"SSIM .*All:([\d.]+)", out)[1])
    psnr = re.search(r"PSNR .*average:([\d.inf]+)", out)[1]
    return ssim, float(psnr)


def still(encoded: Path, png: Path):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-ss", "5", "-i", str(encoded), "-frames:v", "1",
                    "-y", str(png)], check=True)


def pareto(rows: list) -> set:
    """Names of the settings no other beats on both CPU and SSIM at a size within 10 %."""
    front = set()
    for row in rows:
        beaten = any(other["cpu"] < row["cpu"] and other["ssim"] > row["ssim"]
                     and other["mib"] <= row["mib"] * 1.1 for other in rows if other is not row)
        if not beaten:
            front.add(row["name"])
    return front


def measure(server, work: Path, secs: float, out: Path) -> dict:
    """{page: [row]}: captures each page on a new kiosk session of `server`, then encodes and
    compares every setting; the text page's stills go to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    sources = {}
    for page in ("busy", "text"):
        session = kiosk_session(server, f"{page}.html")
        sources[page] = work / f"quality-{page}.mkv"
        capture(session.display, secs, sources[page])
        server.native("DELETE", f"/sessions/{session.id}")
    results = {}
    for page, source in sources.items():
        results[page] = []
        for name, (settings, ext) in SETTINGS.items():
            encoded = work / f"quality-{page}-{len(results[page])}.{ext}"
            cpu = encode(source, settings, encoded)
            ssim, psnr = compare(encoded, source)
            # A 10 fps encode against the source at 10 fps: its picture, not its frame rate.
            own = compare(encoded, source, 10)[0] if "10 fps" in name else ssim
            if page == "text":
                still(encoded, out / f"text-5s-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png")
            results[page].append({"name": name, "cpu": cpu, "mib": encoded.stat().st_size / 2**20,
                                  "ssim": ssim, "psnr": psnr, "own": own})
            encoded.unlink()
    still(sources["text"], out / "text-5s-lossless-source.png")
    for source in sources.values():
        source.unlink()
    return results


def table(results: dict, secs: float) -> list:
    """Markdown rows of `measure`'s results."""
    rows = [f"### 7. Quality held equal ({secs:g} s captured losslessly, then encoded with each setting)", ""]
    for page, found in results.items():
        front = pareto(found)
        rows += [f"| {page} page | encode CPU s | MiB | SSIM at 25 fps | PSNR dB | SSIM at its own rate "
                 f"| on the Pareto front |", "|---|---|---|---|---|---|---|"]
        for r in found:
            rows.append(f"| {r['name']} | {r['cpu']:.1f} | {r['mib']:.2f} | {r['ssim']:.4f} | {r['psnr']:.2f} "
                        f"| {r['own']:.4f} | {'yes' if r['name'] in front else 'no'} |")
        rows.append("")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--secs", type=float, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "quality")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = Server(work / "server", max_sessions=2, first_display=242).start()
        try:
            results = measure(server, work, args.secs, args.out)
        finally:
            server.stop()
    print(f"Command: .venv/bin/python bench/quality.py --secs {args.secs:g}")
    print(f"Machine: {machine()}; {time.strftime('%Y-%m-%d')}\n")
    print("\n".join(table(results, args.secs)))


if __name__ == "__main__":
    main()
