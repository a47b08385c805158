"""wrk through a forward proxy: requests in absolute form (`GET http://host/path`), which is
how a client speaks plain HTTP to a proxy, on keep-alive connections."""

import re
import subprocess
import tempfile
from pathlib import Path


def through(target: str, urls: list[str], connections: int, secs: float, threads: int = 2) -> dict:
    """Loads `target` (the proxy, or the upstream itself for direct) with GETs of `urls` in
    turn; returns {requests, rps, non_2xx, errors}. With a proxy, each request line carries
    the absolute URL; direct, only its path."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        paths = ", ".join(f'"{u}"' for u in urls)
        script.write(f"""
local urls = {{{paths}}}
local i = 0
request = function()
  i = i % #urls + 1
  return wrk.format("GET", urls[i])
end
""")
    try:
        out = subprocess.run(["wrk", f"-c{connections}", f"-t{threads}", f"-d{max(1, round(secs))}s", "-s", script.name, target],
                             capture_output=True, text=True, check=True, timeout=secs + 60).stdout
    finally:
        Path(script.name).unlink()
    count = lambda pattern: int(m.group(1)) if (m := re.search(pattern, out)) else 0  # noqa: E731
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"requests": count(r"(\d+) requests in"), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "non_2xx": count(r"Non-2xx or 3xx responses: (\d+)"), "errors": errors}
