"""``python -m ccroute_web.demo`` starts a centre a person can use, and stops on time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path


def _request(
    opener: urllib.request.OpenerDirector, url: str, body: object = None
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with opener.open(request, timeout=10) as response:
        return int(response.status), bytes(response.read())


def test_the_demo_serves_the_pages_and_signs_in_its_users(tmp_path: Path) -> None:
    log = tmp_path / "demo.db"
    command = [sys.executable, "-m", "ccroute_web.demo", "--port", "0", "--seconds", "5"]
    command += ["--password", "demo-pass", "--path", str(log)]
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
    )
    assert process.stdout is not None
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(banner)
        found = re.search(r"agent desktop\s+(http://127\.0\.0\.1:\d+)/desktop", text)
        assert found, text
        base = found.group(1)
        for user in ("alice", "bob", "carol", "sam"):
            assert re.search(rf"^\s+{user}\s+demo-pass\s+(agent|supervisor)$", text, re.M), text

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        for page in ("widget", "desktop", "wallboard"):
            status, html = _request(opener, f"{base}/{page}")
            assert status == 200 and b"<!doctype html>" in html
        status, me = _request(opener, f"{base}/api/login", {"user": "sam", "password": "demo-pass"})
        assert status == 200 and json.loads(me)["role"] == "supervisor"
        status, board = _request(opener, f"{base}/api/wallboard")
        assert {q["name"] for q in json.loads(board)["queues"]} == {"support", "billing"}
        assert json.loads(board)["agents"]["offline"] == 3

        rest = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, text + rest
    assert "time is up" in rest
    assert time.monotonic() - started < 30
    assert log.exists()  # --path: the centre's log is where it was asked to be
