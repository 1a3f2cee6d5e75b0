#!/usr/bin/env python3
"""A hand check of couch_adapter.py on three real pouchdb-servers, without faultline.

    python3 couch_smoke.py [--install-dir DIR] [--base 127.0.0.4]

Starts three pouchdb-servers (couch_server.js) on 127.0.0.41..43 port 5984 (loopback
only), sets up replication between every pair (admin cluster), and drives the adapter
with protocol-2 JSON lines. "Cutting" replication between two nodes here means
deleting their _replicator documents (and restoring them later): this script has no
network namespaces. It checks:

- hello; a write replicates to every node;
- siblings: writes on two cut-off nodes become two siblings on every node after the
  cut is restored; a context write on one node resolves them everywhere; a write with
  a stale context is a definite fail (409);
- counter and set, conflicts=ignore: an increment (an add) on each of two cut-off
  nodes, then the cut restored: one is lost. conflicts=merge: none is lost;
- register cas mismatch; outcomes: connection refused = fail, a paused node (SIGSTOP):
  a write whose PUT was sent = info, one that failed at its GET = fail, read = fail;
- kill -9 of a node: what it had is still there after the restart, and replication
  to and from it resumes.

Prints one line per check and "N passed, N failed"; exits non-zero on a failure.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.join(HERE, "couch_adapter.py")
sys.path.insert(0, HERE)
import couch_adapter  # noqa: E402

RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, "" if ok else ": %s" % detail), flush=True)


class Node:
    def __init__(self, root, install_dir, ip, port=5984):
        self.ip, self.port = ip, port
        self.addr = "%s:%d" % (ip, port)
        self.dir = os.path.join(root, ip)
        self.install_dir = install_dir
        self.proc = None
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump({"log": {"file": os.path.join(self.dir, "pouchdb-log.txt")}}, f)

    def start(self):
        log = open(os.path.join(self.dir, "couch.log"), "a")
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "couch_server.js"), self.install_dir,
             "--host", self.ip, "--port", str(self.port), "--dir", os.path.join(self.dir, "data"),
             "--config", os.path.join(self.dir, "config.json"), "--no-color"],
            stdout=log, stderr=log, cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + 20
        while subprocess.run([sys.executable, ADAPTER, "admin", "ready", self.addr],
                             stderr=subprocess.DEVNULL).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("couch_smoke: %s did not come up (see %s/couch.log)" % (self.addr, self.dir))
            time.sleep(0.2)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One adapter process, for one node and workload."""

    def __init__(self, node, workload, conflicts="merge", timeout_ms=2000):
        self.proc = subprocess.Popen(
            [sys.executable, ADAPTER, "client", "--addr", node.addr, "--workload", workload,
             "--conflicts", conflicts, "--timeout-ms", str(timeout_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.next_id = 0
        self.hello = self.call("hello", None, None, protocol=2, workload=workload, node=node.ip)

    def call(self, f, key, value, **extra):
        req = {"id": self.next_id, "f": f, "key": key, "value": value}
        req.update(extra)
        self.next_id += 1
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        assert reply["id"] == req["id"], reply
        return reply

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(5)


RESTORES = [0]


def replication(nodes, a, b, on):
    """Cut (on=False) or restore the replication between nodes a and b (both ways).
    A restored replication differs from the deleted one (field `restored`): the
    replicator forgets nothing of a deleted document's replication, and takes a
    new document with the same fields for the replication it believes running."""
    RESTORES[0] += 1
    for x, y in ((a, b), (b, a)):
        couch = couch_adapter.Couch(x.addr, 5.0)
        doc = "/_replicator/faultline-pull-%s" % y.addr.replace(":", "-")
        if on:
            spec = {"source": "http://%s/faultline" % y.addr, "target": "faultline",
                    "continuous": True, "heartbeat": 1000, "restored": RESTORES[0]}
            status, body = couch.call("PUT", doc, spec)
        else:
            status, body = couch.call("GET", doc)
            status, body = couch.call("DELETE", doc + "?rev=" + body["_rev"])
        assert status in (200, 201), (status, body)


def eventually(what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.25)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--install-dir", default="/var/cache/faultline/npm/pouchdb-server-4.2.0")
    p.add_argument("--base", default="127.0.0.4", help="the nodes are BASE1, BASE2, BASE3 (loopback)")
    p.add_argument("--keep", action="store_true", help="keep the nodes' directory")
    args = p.parse_args()
    if not args.base.startswith("127."):
        raise SystemExit("couch_smoke: --base must be a loopback address (127.x)")
    subprocess.run([sys.executable, ADAPTER, "admin", "install", "--dir", args.install_dir], check=True)
    root = tempfile.mkdtemp(prefix="couch-smoke-")
    nodes = [Node(root, args.install_dir, "%s%d" % (args.base, i)) for i in (1, 2, 3)]
    try:
        for n in nodes:
            n.start()
        subprocess.run([sys.executable, ADAPTER, "admin", "cluster", " ".join(n.addr for n in nodes)],
                       check=True)
        run(nodes)
    finally:
        for n in nodes:
            n.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("nodes' directory: %s" % root)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    sys.exit(1 if RESULTS["failed"] else 0)


def run(nodes):
    n1, n2, n3 = nodes
    c1 = Client(n1, "register")
    check("hello", c1.hello["type"] == "ok" and "siblings" in c1.hello["workloads"]
          and c1.hello["preflist"] is False, c1.hello)
    check("register write", c1.call("write", "r0", 1)["type"] == "ok")
    r3 = Client(n3, "register")
    got = eventually(lambda: r3.call("read", "r0", None).get("value") == 1)
    check("a write on n1 reaches n3", got)
    m = c1.call("cas", "r0", [5, 6])
    check("cas mismatch", m["type"] == "fail" and m.get("error") == "mismatch", m)
    check("cas ok", c1.call("cas", "r0", [1, 2])["type"] == "ok")

    # siblings
    s1, s2, s3 = (Client(n, "siblings") for n in nodes)
    replication(nodes, n1, n2, on=False)
    replication(nodes, n1, n3, on=False)
    w1 = s1.call("write", "s0", 10, context=None)
    w2 = s2.call("write", "s0", 20, context=None)
    check("siblings: writes on two cut-off nodes", w1["type"] == "ok" and w2["type"] == "ok", (w1, w2))
    replication(nodes, n1, n2, on=True)
    replication(nodes, n1, n3, on=True)
    for c, name in ((s1, "n1"), (s2, "n2"), (s3, "n3")):
        got = eventually(lambda: sorted(c.call("read", "s0", None)["value"]) == [10, 20])
        check("siblings: %s sees both concurrent writes as siblings" % name, got,
              c.call("read", "s0", None))
    read = s3.call("read", "s0", None)
    check("siblings: context holds both revs", len(read["context"]) == 2, read)
    w = s3.call("write", "s0", 30, context=read["context"])
    check("siblings: context write resolves", w["type"] == "ok", w)
    stale = s3.call("write", "s0", 31, context=read["context"])
    check("siblings: a stale context is a definite fail (409)", stale["type"] == "fail"
          and "409" in stale.get("error", ""), stale)
    for c, name in ((s1, "n1"), (s2, "n2")):
        got = eventually(lambda: c.call("read", "s0", None)["value"] == [30])
        check("siblings: the resolution reaches %s" % name, got, c.call("read", "s0", None))
    local = s2.call("read-local", "s0", None)
    check("siblings: read-local", local["type"] == "ok" and local["value"] == [30], local)

    # counter and set, both conflict settings
    for conflicts, expect_lost in (("ignore", True), ("merge", False)):
        k1, k2, k3 = (Client(n, "counter", conflicts) for n in nodes)
        e1, e2, e3 = (Client(n, "set", conflicts) for n in nodes)
        key = "counter-%s" % conflicts
        skey = "set-%s" % conflicts
        check("counter(%s): first add" % conflicts, k1.call("add", key, 1)["type"] == "ok")
        check("set(%s): first add" % conflicts, e1.call("add", skey, 1)["type"] == "ok")
        eventually(lambda: k2.call("read", key, None)["value"] == 1
                   and e2.call("read", skey, None)["value"] == [1])
        replication(nodes, n1, n2, on=False)
        replication(nodes, n1, n3, on=False)
        a = k1.call("add", key, 1)
        b = k2.call("add", key, 1)
        sa = e1.call("add", skey, 2)
        sb = e2.call("add", skey, 3)
        check("counter(%s): concurrent adds acknowledged" % conflicts,
              a["type"] == b["type"] == sa["type"] == sb["type"] == "ok", (a, b, sa, sb))
        replication(nodes, n1, n2, on=True)
        replication(nodes, n1, n3, on=True)
        # Converged once all three agree.
        def agreed(clients, k):
            vals = [c.call("read", k, None)["value"] for c in clients]
            return vals if all(v == vals[0] for v in vals) and vals[0] not in (1, [1]) else None
        vals = eventually(lambda: agreed((k1, k2, k3), key))
        svals = eventually(lambda: agreed((e1, e2, e3), skey))
        want, swant = (2, [1, 2]) if expect_lost else (3, [1, 2, 3])
        counter_ok = vals is not None and vals[0] == want
        set_ok = svals is not None and (svals[0] in ([1, 2], [1, 3]) if expect_lost else svals[0] == swant)
        check("counter(%s): %s" % (conflicts, "an increment is lost" if expect_lost else "nothing lost"),
              counter_ok, vals)
        check("set(%s): %s" % (conflicts, "an add is lost" if expect_lost else "nothing lost"), set_ok, svals)

    # outcomes
    down = Client(type("N", (), {"addr": "%s:1" % n1.ip, "ip": n1.ip})(), "register", timeout_ms=1000)
    w = down.call("write", "r0", 1)
    check("connection refused: write is fail", w["type"] == "fail", w)
    n3.proc.send_signal(signal.SIGSTOP)
    slow = Client(n3, "register", timeout_ms=1000)
    w = slow.call("write", "r9", 1)
    # A register write GETs first: the GET times out, the PUT is never sent.
    check("paused node: register write fails at its GET (nothing sent)", w["type"] == "fail", w)
    r = slow.call("read", "r9", None)
    check("paused node: read is fail", r["type"] == "fail", r)
    n3.proc.send_signal(signal.SIGCONT)
    s = Client(n3, "siblings", timeout_ms=1000)
    read = s.call("read", "s0", None)
    n3.proc.send_signal(signal.SIGSTOP)
    w = s.call("write", "s0", 40, context=read["context"])
    n3.proc.send_signal(signal.SIGCONT)
    check("paused node: a write sent and unanswered is info", w["type"] == "info", w)

    # kill -9
    w = Client(n2, "register").call("write", "r6", 8)
    check("write on n2 before its kill -9", w["type"] == "ok", w)
    n2.kill9()
    w = c1.call("write", "r7", 9)
    check("write on n1 while n2 is down", w["type"] == "ok", w)
    time.sleep(3)
    n2.start()
    c2 = Client(n2, "register")
    check("kill -9: n2 kept its write", c2.call("read-local", "r6", None).get("value") == 8)
    got = eventually(lambda: c2.call("read", "r7", None).get("value") == 9)
    check("kill -9: restarted n2 catches up with n1", got)
    w = c2.call("write", "r8", 10)
    got = eventually(lambda: r3.call("read", "r8", None).get("value") == 10)
    check("kill -9: a write on restarted n2 reaches n3", w["type"] == "ok" and got, w)


if __name__ == "__main__":
    main()
