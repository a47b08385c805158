"""A deliberately vulnerable web app for testing Tapedeck's security tests (issue #17).

Every vulnerability is here once, under /vuln/..., and has a safe twin under /safe/... with
the same endpoint shape, which escapes, parameterises or refuses instead. A test records
baselines of both and expects findings on the first and none on the second.

Listen on loopback only. Standard library only: http.server, sqlite3, xml.etree (with
external entities resolved by hand, as a careless app would), subprocess (the shell step runs
as the unprivileged user nobody when started as root, and always under a timeout).

Every request is logged as (host, method, path, body), and every URL the app itself is made
to request (an SSRF fetch, an XML external entity, a URL on a shell command line) as (how, url).
Tests use the two logs to prove that no test request went to a host outside the allowed hosts,
and that out-of-band payloads reached only Tapedeck's canary.

    python3 vulnerable_app.py --port 8000

    from vulnerable_app import VulnerableApp
    with VulnerableApp() as app:      # port 0: any free port
        app.url                       # http://127.0.0.1:<port>
        app.requests                  # [Logged(host, method, path, body), ...]
        app.outbound                  # [("fetch" | "entity" | "shell", url), ...]
        app.fix("/vuln/xss/text")     # from now on that endpoint behaves like its safe twin
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

ORDERS = [("bob", "tea"), ("bob", "cake"), ("alice", "coffee")]
SHELL_TIMEOUT_S = 5
FETCH_TIMEOUT_S = 3
INDEX = """<!doctype html><html><body><h1>Vulnerable app</h1><ul>
<li><a href="/vuln/xss/text?q=tea">xss text</a> <a href="/safe/xss/text?q=tea">safe</a></li>
<li><a href="/vuln/xss/attr?q=tea">xss attribute</a> <a href="/safe/xss/attr?q=tea">safe</a></li>
<li><a href="/vuln/xss/js?q=tea">xss js string</a> <a href="/safe/xss/js?q=tea">safe</a></li>
<li><a href="/vuln/sqli/query?name=bob">sqli query</a> <a href="/safe/sqli/query?name=bob">safe</a></li>
<li>POST /vuln/sqli/form name=bob, POST /vuln/sqli/json {"name":"bob"} (and /safe/...)</li>
<li><a href="/vuln/file?name=report.txt">path traversal</a> <a href="/safe/file?name=report.txt">safe</a></li>
<li><a href="/vuln/ping?host=127.0.0.1">command injection</a> <a href="/safe/ping?host=127.0.0.1">safe</a></li>
<li><a href="/vuln/fetch?url=http://127.0.0.1/">ssrf</a> <a href="/safe/fetch?url=http://127.0.0.1/">safe</a></li>
<li>POST /vuln/xxe &lt;order&gt;&lt;item&gt;tea&lt;/item&gt;&lt;/order&gt; (and /safe/xxe)</li>
<li><a href="/vuln/redirect?next=/">open redirect</a> <a href="/safe/redirect?next=/">safe</a></li>
<li><a href="/vuln/greet?name=bob">ssti</a> <a href="/safe/greet?name=bob">safe</a></li>
<li><a href="/vuln/lang?l=en">crlf</a> <a href="/safe/lang?l=en">safe</a></li>
</ul></body></html>"""


def page(title: str, inner: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{inner}</body></html>"


def js_string(value: str) -> str:
    """A JSON string that is also safe inside <script>: no quote, <, > or & left raw."""
    return (
        json.dumps(value)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


def orders_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (name TEXT, item TEXT)")
    db.executemany("INSERT INTO orders VALUES (?, ?)", ORDERS)
    return db


def find_orders(name: str, safe: bool) -> list[str]:
    """Items ordered by `name`; the unsafe way builds the SQL by string concatenation."""
    with orders_db() as db:
        if safe:
            rows = db.execute("SELECT item FROM orders WHERE name = ?", (name,))
        else:
            rows = db.execute("SELECT item FROM orders WHERE name = '" + name + "'")
        return [r[0] for r in rows]


# Arithmetic only, and no power operator: `9**9**9**9` would keep a thread busy for ever.
ARITHMETIC = re.compile(r"^(?!.*\*\*)[\d\s+\-*/().]{1,64}$")


def render(template: str, variables: dict[str, str]) -> str:
    """A tiny template engine: {{ name }} is a variable, {{ 7*7 }} is evaluated arithmetic."""

    def one(match: re.Match) -> str:
        expr = match.group(1).strip()
        if expr in variables:
            return html.escape(variables[expr])
        if ARITHMETIC.match(expr):
            return str(eval(expr, {"__builtins__": {}}, {}))  # noqa: S307 - arithmetic only
        return match.group(0)

    return re.sub(r"\{\{(.*?)\}\}", one, template)


ENTITY = re.compile(r'<!ENTITY\s+(\w+)\s+SYSTEM\s+"([^"]*)"\s*>')
URL_ON_COMMAND_LINE = re.compile(r"https?://[^\s'\"`|;&()<>]+")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Fetches stop at a redirect, so the app requests exactly the URL it was given and the
    outbound log is the whole truth."""

    def redirect_request(self, *args, **kwargs):
        return None


# Direct connections only: a test machine's http_proxy must not carry the app's fetches (a
# proxy would hide where they went, and could not reach Tapedeck's loopback canary).
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects())


def fetch(url: str) -> str:
    if url.startswith("file://"):
        with open(urllib.parse.urlparse(url).path, errors="replace") as f:
            return f.read(4096)
    with OPENER.open(url, timeout=FETCH_TIMEOUT_S) as r:  # noqa: S310 - the bug
        return r.read(4096).decode(errors="replace")


def shell_as_nobody(command: str) -> str:
    """Runs a shell command line as nobody (when we can switch user) under a timeout."""
    argv = ["sh", "-c", command]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *argv]
    try:
        done = subprocess.run(  # noqa: S603 - the bug, contained
            argv, capture_output=True, text=True, timeout=SHELL_TIMEOUT_S, cwd="/", env={"PATH": "/usr/bin:/bin"}
        )
        return done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        return "timed out"


class Handler(BaseHTTPRequestHandler):
    """Routes /vuln/<name> and /safe/<name> to one method per vulnerability."""

    server: AppServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.route()

    def do_POST(self) -> None:  # noqa: N802
        self.route()

    def route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.record(self.headers.get("Host", ""), self.command, self.path, self.body)
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if url.path == "/":
            return self.send(200, INDEX)
        parts = url.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] not in ("vuln", "safe"):
            return self.send(404, page("Not found", "<p>Not found</p>"))
        handler = getattr(self, "page_" + "_".join(parts[1:]), None)
        if handler is None:
            return self.send(404, page("Not found", "<p>Not found</p>"))
        try:
            handler(parts[0] == "safe" or url.path in self.server.fixed)
        except Exception as e:  # noqa: BLE001 - errors are shown, as a careless app would
            self.send(500, page("Error", f"<pre>{type(e).__module__}.{type(e).__name__}: {html.escape(str(e))}</pre>"))

    def send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8", headers=()) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # Reflected XSS, in three contexts.

    def page_xss_text(self, safe: bool) -> None:
        q = self.query.get("q", "")
        self.send(200, page("Search", f"<p>Results for {html.escape(q) if safe else q}</p>"))

    def page_xss_attr(self, safe: bool) -> None:
        q = self.query.get("q", "")
        self.send(200, page("Search", f'<form><input name="q" value="{html.escape(q, quote=True) if safe else q}"></form>'))

    def page_xss_js(self, safe: bool) -> None:
        q = self.query.get("q", "")
        literal = js_string(q) if safe else f'"{q}"'
        self.send(200, page("Search", f"<script>var q = {literal}; document.title = q;</script><p>Searching</p>"))

    # SQL injection (SQLite), in a query parameter, a form field and a JSON field.

    def orders_page(self, name: str, safe: bool) -> None:
        items = find_orders(name, safe)
        self.send(200, page("Orders", "<h1>Orders</h1><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"))

    def page_sqli_query(self, safe: bool) -> None:
        self.orders_page(self.query.get("name", ""), safe)

    def page_sqli_form(self, safe: bool) -> None:
        form = urllib.parse.parse_qs(self.body.decode(errors="replace"), keep_blank_values=True)
        self.orders_page(form.get("name", [""])[0], safe)

    def page_sqli_json(self, safe: bool) -> None:
        name = str(json.loads(self.body or b"{}").get("name", ""))
        self.send(200, json.dumps({"items": find_orders(name, safe)}), "application/json")

    # Path traversal.

    def page_file(self, safe: bool) -> None:
        root = self.server.files
        path = os.path.join(root, self.query.get("name", ""))
        if safe and not os.path.realpath(path).startswith(os.path.realpath(root) + os.sep):
            return self.send(404, page("Files", "<p>No such file</p>"))
        with open(path, errors="replace") as f:
            self.send(200, f.read(4096), "text/plain; charset=utf-8")

    # Command injection: the host goes through a shell, or as one argument.

    def page_ping(self, safe: bool) -> None:
        host = self.query.get("host", "")
        if safe:
            out = subprocess.run(  # noqa: S603
                ["echo", "pinging", host], capture_output=True, text=True, timeout=SHELL_TIMEOUT_S
            ).stdout
        else:
            out = self.server.shell("echo pinging " + host)
        self.send(200, page("Ping", f"<pre>{html.escape(out)}</pre>"))

    # SSRF: the app fetches a URL it is given, or only its own.

    def page_fetch(self, safe: bool) -> None:
        url = self.query.get("url", "")
        if safe and urllib.parse.urlsplit(url).netloc != self.server.own_netloc:
            # The twin fetches only from itself: anything else, Tapedeck's canary included, is
            # refused.
            return self.send(400, page("Fetch", "<p>Host not allowed</p>"))
        try:
            text = self.server.fetch(url, "fetch") if url.startswith(("http://", "https://")) else "unsupported"
        except Exception as e:  # noqa: BLE001
            text = f"[{e}]"
        self.send(200, page("Fetch", f"<pre>{html.escape(text[:200])}</pre>"))

    # XXE: external entities resolved, or any DOCTYPE refused.

    def page_xxe(self, safe: bool) -> None:
        body = self.body.decode(errors="replace")
        if safe:
            if "<!DOCTYPE" in body.upper():
                return self.send(400, page("Order", "<p>DTDs are not accepted</p>"))
        else:
            body = self.server.resolve_external_entities(body)
        root = ET.fromstring(body)
        items = [html.escape(i.text or "") for i in root.iter("item")]
        self.send(200, page("Order", "<p>Ordered: " + ", ".join(items) + "</p>"))

    # Open redirect.

    def page_redirect(self, safe: bool) -> None:
        # Line breaks are dropped in both: this endpoint is about where it redirects, and CRLF
        # injection has its own (/vuln/lang).
        target = re.sub(r"[\r\n]", "", self.query.get("next", "/"))
        if safe and not (target.startswith("/") and not target.startswith(("//", "/\\"))):
            target = "/"
        self.send(302, "", headers=[("Location", target)])

    # Server-side template injection: the value becomes template source, or a variable.

    def page_greet(self, safe: bool) -> None:
        name = self.query.get("name", "")
        if safe:
            body = render("<p>Hello {{ name }}</p>", {"name": name})
        else:
            # HTML-escaped, so the only bug here is the template source (braces survive).
            body = render("<p>Hello " + html.escape(name) + "</p>", {})
        self.send(200, page("Greeting", body))

    # CRLF injection: the value goes into a response header raw, or without line breaks.

    def page_lang(self, safe: bool) -> None:
        lang = self.query.get("l", "en")
        if safe:
            lang = re.sub(r"[\r\n]", "", lang)
        self.send(200, page("Language", "<p>ok</p>"), headers=[("X-Lang", lang)])


class Logged(NamedTuple):
    """One request the app received."""

    host: str
    method: str
    path: str
    body: bytes


class AppServer(ThreadingHTTPServer):
    """The server: holds the request and outbound logs, the files directory, the endpoints
    fixed at runtime, and its own address, the one place the safe fetch twin fetches from."""

    daemon_threads = True

    def __init__(self, address, files: str, echo: bool = False) -> None:
        super().__init__(address, Handler)
        self.files = files
        self.echo = echo
        self.own_netloc = f"127.0.0.1:{self.server_address[1]}"
        self.requests: list[Logged] = []
        self.outbound: list[tuple[str, str]] = []
        self.fixed: set[str] = set()
        self.lock = threading.Lock()

    def record(self, host: str, method: str, path: str, body: bytes) -> None:
        with self.lock:
            self.requests.append(Logged(host, method, path, body))
        if self.echo:
            print(f"{host} {method} {path}", file=sys.stderr, flush=True)

    def note_outbound(self, how: str, url: str) -> None:
        with self.lock:
            self.outbound.append((how, url))
        if self.echo:
            print(f"  -> {how} {url}", file=sys.stderr, flush=True)

    def fetch(self, url: str, how: str) -> str:
        self.note_outbound(how, url)
        return fetch(url)

    def shell(self, command: str) -> str:
        for url in URL_ON_COMMAND_LINE.findall(command):
            self.note_outbound("shell", url)
        return shell_as_nobody(command)

    def resolve_external_entities(self, body: str) -> str:
        """What a careless XML parser does: fetch each SYSTEM entity and put its text in place."""
        for name, uri in ENTITY.findall(body):
            try:
                text = self.fetch(uri, "entity")
            except Exception as e:  # noqa: BLE001 - the app shows what went wrong
                text = f"[{e}]"
            body = body.replace(f"&{name};", html.escape(text))
        return re.sub(r"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", "", body, flags=re.S)


class VulnerableApp:
    """The app on a loopback port in a background thread; a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", echo: bool = False) -> None:
        self.files = tempfile.TemporaryDirectory(prefix="vulnerable-app-")
        with open(os.path.join(self.files.name, "report.txt"), "w") as f:
            f.write("Quarterly report: all good\n")
        self.server = AppServer((host, port), self.files.name, echo)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Logged]:
        """Every request so far: Host header, method, path with query, and body."""
        with self.server.lock:
            return list(self.server.requests)

    @property
    def outbound(self) -> list[tuple[str, str]]:
        """Every URL the app was made to request so far, with how: `fetch` (SSRF), `entity`
        (XXE) or `shell` (on a command line the injectable shell step ran)."""
        with self.server.lock:
            return list(self.server.outbound)

    def fix(self, path: str) -> None:
        """Fixes one /vuln endpoint at runtime: from now on it behaves like its safe twin, as
        if the bug had been patched and redeployed."""
        if not path.startswith("/vuln/"):
            raise ValueError(f"only a /vuln/... endpoint can be fixed, not {path!r}")
        with self.server.lock:
            self.server.fixed.add(path)

    def start(self) -> VulnerableApp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.files.cleanup()

    def __enter__(self) -> VulnerableApp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


ORDER_XML = '<?xml version="1.0"?><order><item>tea</item></order>'


def endpoints(app: VulnerableApp) -> list:
    """Each endpoint of one side (`{side}` in the path) as (method, path, request arguments)."""
    return [
        ("GET", "/{side}/xss/text", {"params": {"q": "tea"}}),
        ("GET", "/{side}/xss/attr", {"params": {"q": "tea"}}),
        ("GET", "/{side}/xss/js", {"params": {"q": "tea"}}),
        ("GET", "/{side}/sqli/query", {"params": {"name": "bob"}}),
        ("POST", "/{side}/sqli/form", {"data": {"name": "bob"}}),
        ("POST", "/{side}/sqli/json", {"json": {"name": "bob"}}),
        ("GET", "/{side}/file", {"params": {"name": "report.txt"}}),
        ("GET", "/{side}/ping", {"params": {"host": "127.0.0.1"}}),
        ("GET", "/{side}/fetch", {"params": {"url": f"{app.url}/"}}),
        ("POST", "/{side}/xxe", {"content": ORDER_XML, "headers": {"Content-Type": "application/xml"}}),
        ("GET", "/{side}/redirect", {"params": {"next": "/"}}),
        ("GET", "/{side}/greet", {"params": {"name": "bob"}}),
        ("GET", "/{side}/lang", {"params": {"l": "en"}}),
    ]


# The planted vulnerabilities, path by path: (type, insertion point in FAST's syntax). A security
# test must find these and nothing else, so nothing on any /safe twin.
PLANTED = {
    "/vuln/xss/text": ("xss", "GET_q"),
    "/vuln/xss/attr": ("xss", "GET_q"),
    "/vuln/xss/js": ("xss", "GET_q"),
    "/vuln/sqli/query": ("sqli", "GET_name"),
    "/vuln/sqli/form": ("sqli", "POST_name"),
    "/vuln/sqli/json": ("sqli", "JSON_name"),
    "/vuln/file": ("ptrav", "GET_name"),
    "/vuln/ping": ("rce", "GET_host"),
    "/vuln/fetch": ("ssrf", "GET_url"),
    "/vuln/xxe": ("xxe", "XML_order.item"),
    "/vuln/redirect": ("redir", "GET_next"),
    "/vuln/greet": ("ssti", "GET_name"),
    "/vuln/lang": ("crlf", "GET_l"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1", help="keep it on loopback")
    args = parser.parse_args()
    app = VulnerableApp(args.port, args.host, echo=True)
    print(f"listening on {app.url}", file=sys.stderr, flush=True)
    try:
        app.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.server.server_close()
        app.files.cleanup()


if __name__ == "__main__":
    main()
