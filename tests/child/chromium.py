"""Headless Chromium opens a URL and its DOM is read, over the DevTools
protocol, until it contains a wanted text or a deadline passes. A fixed
--virtual-time-budget dump races the page's own WebSocket traffic (virtual
time skips ahead while the page waits on a socket); this waits for the
condition instead.

Usage: python3 chromium.py CHROMIUM PROFILE_DIR URL WANTED SECONDS [FLAG...]
Prints the last DOM read; exits 0 once WANTED is in it, 1 at the deadline.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

from websockets.sync.client import connect

chromium, profile, url, wanted, seconds = sys.argv[1:6]
flags = sys.argv[6:]
deadline = time.monotonic() + float(seconds)
port_file = os.path.join(profile, "DevToolsActivePort")
if os.path.exists(port_file):
    os.remove(port_file)
browser = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
     "--disable-background-networking", "--remote-debugging-port=0",
     f"--user-data-dir={profile}", *flags, url],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
dom = ""
try:
    # Chromium writes its DevTools port once it listens.
    while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
        if time.monotonic() > deadline or browser.poll() is not None:
            sys.exit(f"chromium wrote no DevTools port (exit {browser.poll()})")
        time.sleep(0.05)
    port = int(open(port_file).read().split()[0])
    page = None
    while page is None:
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            if time.monotonic() > deadline:
                sys.exit("chromium opened no page")
            time.sleep(0.05)
    with connect(page["webSocketDebuggerUrl"], max_size=2**24) as devtools:
        ask = 0
        while True:
            ask += 1
            devtools.send(json.dumps({
                "id": ask, "method": "Runtime.evaluate",
                "params": {"expression": "document.documentElement.outerHTML",
                           "returnByValue": True}}))
            while True:
                reply = json.loads(devtools.recv(timeout=max(deadline - time.monotonic(), 0.1)))
                if reply.get("id") == ask:
                    break
            dom = reply.get("result", {}).get("result", {}).get("value", "") or ""
            if wanted in dom:
                print(dom)
                sys.exit(0)
            if time.monotonic() > deadline:
                print(dom)
                sys.exit(1)
            # Polling the page, not synchronising: it says nothing by itself.
            time.sleep(0.05)
finally:
    browser.kill()
    browser.wait()
