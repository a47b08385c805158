"""A fast upstream for proxy benchmarks: Debian's nginx serving fixed bodies over HTTP and, with
a certificate from a throwaway test CA, HTTPS on `HOSTS` distinct loopback addresses
(127.0.1.1 …), so a proxy meets that many hosts to make certificates for.

    /1k   1 KiB          /64k   64 KiB          anything else   404
"""

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SIZES = {"1k": 1024, "64k": 64 * 1024}
#: Distinct HTTPS hosts: 127.0.1.1 to 127.0.1.HOSTS.
HOSTS = 200
HTTPS_HOSTS = [f"127.0.1.{n}" for n in range(1, HOSTS + 1)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_ca(work: Path) -> tuple[Path, Path, Path]:
    """A test CA and a leaf for 127.0.0.1 and every HTTPS host, signed by it: (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (work / n for n in ("ca.key", "ca.pem", "leaf.key", "leaf.csr", "leaf.pem"))
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench test CA",
        "-keyout", str(ca_key), "-out", str(ca))
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bench.test", "-keyout", str(key),
        "-out", str(csr))
    ext = work / "leaf.ext"
    names = ",".join(f"IP:{host}" for host in ["127.0.0.1", *HTTPS_HOSTS])
    ext.write_text(f"subjectAltName={names}\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


class Nginx:
    """One nginx worker (the load generator and the proxy share the other cores) on loopback."""

    def __init__(self, work: Path):
        self.dir = work / "nginx"
        www = self.dir / "www"
        www.mkdir(parents=True, exist_ok=True)
        for name, size in SIZES.items():
            (www / name).write_bytes(b"x" * size)
        self.ca, cert, key = make_ca(self.dir)
        self.http_port, self.https_port = free_port(), free_port()
        # One line per request served: the ground truth a recording's count is checked on.
        self.log = self.dir / "access.log"
        listens = " ".join(f"listen {host}:{self.https_port} ssl;" for host in ["127.0.0.1", *HTTPS_HOSTS])
        temp = " ".join(f"{k}_temp_path {self.dir / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # The worker runs as the harness's user: the files sit in its private temporary directory.
        (self.dir / "nginx.conf").write_text(f"""
user {getpass.getuser()};
worker_processes 1;
pid {self.dir / 'nginx.pid'};
error_log {self.dir / 'error.log'};
events {{ worker_connections 8192; }}
http {{
  log_format bench "$request_uri";
  access_log {self.log} bench buffer=256k flush=1s; {temp}
  keepalive_requests 10000000;
  default_type application/octet-stream;
  server {{ listen 127.0.0.1:{self.http_port}; root {www}; }}
  server {{ {listens} root {www};
           ssl_certificate {cert}; ssl_certificate_key {key}; }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {(self.dir / 'error.log').read_text()}")

    def served(self) -> int:
        """Requests served so far (the log is flushed every second, so wait a little first)."""
        time.sleep(1.5)
        with open(self.log, "rb") as log:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: log.read(1 << 20), b""))

    def url(self, name: str) -> str:
        """The plain HTTP URL of `name` (`1k`, `64k`, or anything else for a 404)."""
        return f"http://127.0.0.1:{self.http_port}/{name}"

    def https_url(self, name: str, host: str = "127.0.0.1") -> str:
        """The HTTPS URL of `name` on `host` (one of `HTTPS_HOSTS`, or 127.0.0.1)."""
        return f"https://{host}:{self.https_port}/{name}"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
