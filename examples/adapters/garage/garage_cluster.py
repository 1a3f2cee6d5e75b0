#!/usr/bin/env python3
"""Garage's lifecycle steps for faultline (garage.toml), over Garage's admin
HTTP API (v2) and its K2V/S3 APIs: Python 3, standard library only, so it
needs no `garage` binary of its own and works the same on local and SSH
nodes.

Usage:
    garage_cluster.py ready ADMIN_ADDR K2V_ADDR --token T
        node.ready: exit 0 once the node's admin API answers GetNodeInfo and
        its K2V port accepts connections (at start-up, before any layout,
        and after every restart).
    garage_cluster.py form --token T --rpc-port P --admin-port A --k2v-port K
                           --s3-port S "IP1 IP2 ..." [--capacity 1G]
        [cluster] after_start, on the first node: learn each node's id,
        connect them all, give each node its own zone and the same capacity,
        apply the layout, wait until every node reports the cluster healthy,
        create the bucket, import the fixed access key, allow it on the
        bucket, and wait until every node's K2V and S3 APIs accept it.

Every step is idempotent enough to run on a fresh cluster once; the node
directories are wiped before each run (node.wipe).
"""
import argparse
import shutil
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import garage_adapter  # noqa: E402  (the SigV4 signing, the fixed key)


class Admin:
    """Garage's admin API v2 on one node."""

    def __init__(self, addr, token, timeout=5.0):
        self.base = "http://%s/v2/" % addr
        self.token = token
        self.timeout = timeout

    def call(self, endpoint, body=None, query=""):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + endpoint + query, data=data,
                                     method="GET" if data is None else "POST")
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s%s: HTTP %d: %s" % (
                self.base, endpoint, e.code, e.read().decode("utf-8", "replace")[:300]))


def log(msg):
    print("garage_cluster: " + msg, file=sys.stderr, flush=True)


def until(what, deadline, f, pause=0.25):
    """f() until it returns a true value; its last error on the deadline."""
    last = None
    while True:
        try:
            v = f()
            if v:
                return v
            last = "not yet"
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            last = e
        if time.monotonic() > deadline:
            raise SystemExit("garage_cluster: %s: gave up: %s" % (what, last))
        time.sleep(pause)


def node_id(admin):
    info = admin.call("GetNodeInfo", query="?node=self")
    ok = info.get("success") or {}
    if len(ok) != 1:
        raise RuntimeError("GetNodeInfo?node=self: %s" % info)
    return next(iter(ok.values()))["nodeId"]


def cmd_ready(args):
    try:
        node_id(Admin(args.admin, args.token, timeout=2.0))
        host, port = args.k2v.rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=2.0).close()
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        print("not ready: %s" % e, file=sys.stderr)
        return 1
    return 0


def signed_ok(api, method, path, query=()):
    status, _, data = api.call(method, path, query)
    if status != 200:
        raise RuntimeError("%s %s on %s: %d %s" % (method, path, api.addr, status, data[:200]))
    return True


def cmd_form(args):
    started = time.monotonic()
    deadline = started + args.timeout
    ips = args.ips.split()
    admins = [Admin("%s:%d" % (ip, args.admin_port), args.token) for ip in ips]
    ids = [until("node id of %s" % ip, deadline, lambda a=a: node_id(a))
           for ip, a in zip(ips, admins)]
    first = admins[0]
    peers = ["%s@%s:%d" % (i, ip, args.rpc_port) for i, ip in zip(ids[1:], ips[1:])]
    if peers:
        for r in first.call("ConnectClusterNodes", peers):
            if not r.get("success"):
                log("connect: %s" % r.get("error"))

    def all_up():
        st = first.call("GetClusterStatus")
        up = {n["id"] for n in st["nodes"] if n.get("isUp")}
        return all(i in up for i in ids)

    until("every node connected", deadline, all_up)
    layout = first.call("GetClusterLayout")
    first.call("UpdateClusterLayout", {"roles": [
        {"id": i, "zone": "z%d" % (k + 1), "capacity": args.capacity, "tags": []}
        for k, i in enumerate(ids)]})
    version = layout["version"] + 1
    first.call("ApplyClusterLayout", {"version": version})

    def healthy(a):
        h = a.call("GetClusterHealth")
        return h.get("status") == "healthy" and h.get("partitionsAllOk") == h.get("partitions")

    for ip, a in zip(ips, admins):
        until("cluster healthy as seen by %s" % ip, deadline, lambda a=a: healthy(a))

    bucket = first.call("CreateBucket", {"globalAlias": args.bucket})["id"]
    first.call("ImportKey", {"accessKeyId": args.key_id, "secretAccessKey": args.secret,
                             "name": "faultline"})
    first.call("AllowBucketKey", {"bucketId": bucket, "accessKeyId": args.key_id,
                                  "permissions": {"read": True, "write": True, "owner": True}})

    # The key and bucket tables reach every node asynchronously: wait until
    # each node's own K2V and S3 endpoints accept the key on the bucket.
    for ip in ips:
        k2v = garage_adapter.Api("%s:%d" % (ip, args.k2v_port), "k2v",
                                 args.key_id, args.secret, 5.0)
        s3 = garage_adapter.Api("%s:%d" % (ip, args.s3_port), "s3",
                                args.key_id, args.secret, 5.0)
        until("K2V on %s" % ip, deadline,
              lambda: signed_ok(k2v, "GET", "/" + args.bucket))
        until("S3 on %s" % ip, deadline,
              lambda: signed_ok(s3, "GET", "/" + args.bucket, [("list-type", "2")]))
    log("formed %d nodes (layout version %d, bucket %s) in %.1fs" % (
        len(ips), version, bucket, time.monotonic() - started))
    return 0


def cmd_wipe(args):
    """Empties a data directory, keeping the directory itself: faultline may
    have mounted faultfs on it (the power and slow nemeses), and a mount
    point cannot be removed."""
    if not os.path.isdir(args.dir):
        return 0
    for name in os.listdir(args.dir):
        path = os.path.join(args.dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wipe")
    w.add_argument("dir")
    r = sub.add_parser("ready")
    r.add_argument("admin")
    r.add_argument("k2v")
    r.add_argument("--token", required=True)
    f = sub.add_parser("form")
    f.add_argument("ips", help="the nodes' addresses, separated by spaces, first = this node")
    f.add_argument("--token", required=True)
    f.add_argument("--rpc-port", type=int, required=True)
    f.add_argument("--admin-port", type=int, required=True)
    f.add_argument("--k2v-port", type=int, required=True)
    f.add_argument("--s3-port", type=int, required=True)
    f.add_argument("--capacity", type=int, default=1_000_000_000, help="bytes per node")
    f.add_argument("--bucket", default=garage_adapter.DEFAULT_BUCKET)
    f.add_argument("--key-id", default=garage_adapter.DEFAULT_KEY_ID)
    f.add_argument("--secret", default=garage_adapter.DEFAULT_SECRET)
    f.add_argument("--timeout", type=float, default=55.0,
                   help="seconds for the whole formation (faultline allows 60)")
    args = p.parse_args()
    commands = {"ready": cmd_ready, "form": cmd_form, "wipe": cmd_wipe}
    sys.exit(commands[args.cmd](args))


if __name__ == "__main__":
    main()
