#!/usr/bin/env python3
"""A local stand-in for the Hugging Face Hub's endpoints that modelplan uses (docs/hub.md, "Online"), for the
tests in tests/cli/hub-online.cpp. Usage: hub-server.py ROOT; prints the port on its first line of stdout.

ROOT/<org>/<name>/<revision>/<files> is a repository at a revision. Endpoints, as the Hub answers them:
  GET /api/models/<org>/<name>[/revision/<rev>]  {"id": ..., "sha": ..., "siblings": [{"rfilename": ...}]}
  GET /<org>/<name>/resolve/<rev>/<file>          the file; *.safetensors and *.gguf answer 302 to
                                                  http://localhost:<port>/lfs/... (another host name than
                                                  127.0.0.1, as the Hub sends LFS files to its CDN), where Range
                                                  requests get 206 with Content-Range.
Markers in ROOT/<org>/<name>/: "gated" (401 without "Authorization: Bearer secret"), "slow" (every answer waits
60 s), "lying" (Content-Range names the range one byte further on than the bytes sent), "flaky" (the first
listing request answers 503 with Retry-After: 1, and the marker is removed).
Every answer allows any origin (CORS, as the Hub does for pages), for the page's tests (tests/web/hub.spec.mjs).
GET /stats: {"bytes": body bytes sent, "auth_elsewhere": requests on the LFS host that carried Authorization,
"requests": [paths]}.
"""
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[1]
LOCK = threading.Lock()
STATS = {"bytes": 0, "auth_elsewhere": 0, "requests": []}


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def cors(self):
        # As the Hub answers a page's fetch: any origin, Range and Authorization allowed, Content-Range readable.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Range, Content-Length")

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.send_header("Access-Control-Allow-Headers", "Range, Authorization")
        self.send_header("Access-Control-Allow-Methods", "GET")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        self.cors()
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with LOCK:
            STATS["bytes"] += len(body)

    def repo_dir(self, org, name):
        return os.path.join(ROOT, org, name)

    def marker(self, org, name, what):
        return os.path.exists(os.path.join(self.repo_dir(org, name), what))

    def do_GET(self):
        path = self.path.split("?")[0]
        with LOCK:
            STATS["requests"].append(path)
        if path == "/stats":
            body = json.dumps(STATS).encode()
            self.send_response(200)
            self.cors()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        m = re.match(r"^/api/models/([^/]+)/([^/]+)(?:/revision/([^/]+))?$", path)
        if m:
            return self.listing(m.group(1), m.group(2), m.group(3) or "main")
        m = re.match(r"^/(lfs/)?([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$", path)
        if m:
            return self.file(m.group(2), m.group(3), m.group(4), m.group(5), bool(m.group(1)))
        self.send(404, b'{"error": "not found"}')

    def guard(self, org, name):
        """False (and an answer sent) when the repository is missing, gated without the token, or slow."""
        if not os.path.isdir(self.repo_dir(org, name)):
            self.send(404, b'{"error": "Repository not found"}')
            return False
        if self.marker(org, name, "slow"):
            time.sleep(60)
        if self.marker(org, name, "gated") and self.headers.get("Authorization") != "Bearer secret":
            self.send(401, b'{"error": "Access to model is restricted"}')
            return False
        return True

    def listing(self, org, name, rev):
        if not self.guard(org, name):
            return
        if self.marker(org, name, "flaky"):  # the first listing request fails, as an overloaded server's may
            os.remove(os.path.join(self.repo_dir(org, name), "flaky"))
            return self.send(503, b'{"error": "try again"}', {"Retry-After": "1"})
        folder = os.path.join(self.repo_dir(org, name), rev)
        if not os.path.isdir(folder):
            return self.send(404, b'{"error": "Revision not found"}')
        files = sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))
        body = json.dumps({"id": f"{org}/{name}", "sha": rev,
                           "siblings": [{"rfilename": f} for f in files]}).encode()
        self.send(200, body, {"Content-Type": "application/json"})

    def file(self, org, name, rev, rel, lfs):
        host = self.headers.get("Host", "")
        if lfs and self.headers.get("Authorization"):
            with LOCK:
                STATS["auth_elsewhere"] += 1
        if not lfs and not self.guard(org, name):
            return
        full = os.path.join(self.repo_dir(org, name), rev, rel)
        if not os.path.isfile(full):
            return self.send(404, b'{"error": "Entry not found"}')
        if not lfs and (rel.endswith(".safetensors") or rel.endswith(".gguf")):
            port = host.split(":")[-1]
            return self.send(302, b"", {"Location": f"http://localhost:{port}/lfs/{org}/{name}/resolve/{rev}/{rel}"})
        data = open(full, "rb").read()
        rng = self.headers.get("Range")
        if not rng:
            return self.send(200, data)
        m = re.match(r"^bytes=(\d+)-(\d+)$", rng)
        if not m:
            return self.send(416, b"")
        first, last = int(m.group(1)), min(int(m.group(2)), len(data) - 1)
        if first >= len(data):
            return self.send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        shift = 1 if self.marker(org, name, "lying") else 0
        self.send(206, data[first:last + 1],
                  {"Content-Range": f"bytes {first + shift}-{last + shift}/{len(data)}"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
