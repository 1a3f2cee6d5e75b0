#!/usr/bin/env python3
"""A faultline adapter for ringkv's HTTP API: Python 3, standard library only.

faultline starts one of these per worker (and one per final reader) and
speaks JSON lines with it on stdin and stdout (docs/adapters.md), protocol 2:
a hello first, then one request at a time, for every live workload:

    -> {"id": 0, "f": "hello", "protocol": 2, "workload": "set", "node": "n1"}
    <- {"id": 0, "type": "ok", "protocol": 2, "workloads": [...], "read_local": [...], "preflist": true}
    -> {"id": 7, "f": "add", "key": "set-3", "value": 17}
    <- {"id": 7, "type": "ok"}

Usage:
    ringkv_adapter.py client --addr IP:PORT --workload W --worker NAME --timeout-ms N
    ringkv_adapter.py admin leave|join IP:PORT      (the membership nemesis)
    ringkv_adapter.py admin ready IP:PORT           (node.ready: exit 0 once the node
                                                     sees every node in its ring, but
                                                     those that left it)

The rule every reply follows is honesty about the outcome: "ok" only when
ringkv confirmed the effect, "fail" only when the request certainly had no
effect (the connection was refused, a 4xx, a write that missed the read
quorum it takes before changing anything, any failed read), "info" whenever
the outcome is unknown (a timeout, a 503 from a write that may have reached
some replicas). Diagnostics go to stderr, which faultline keeps in the run's
adapter/ folder; stdout carries replies and nothing else.
"""
import argparse
import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request


class Definite(Exception):
    """The request certainly had no effect: reply fail."""


class Unknown(Exception):
    """The request may have had an effect: reply info."""


class Ringkv:
    """ringkv's HTTP API on one node, with the outcome rules above."""

    def __init__(self, addr, timeout_s):
        self.base = "http://" + addr
        self.timeout = timeout_s

    def call(self, method, path, body=None):
        """(status, JSON body) for any HTTP answer; raises Definite when the
        request never reached the node, Unknown when the answer was lost."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                payload = json.loads(e.read() or b"null")
            except ValueError:
                payload = None
            return e.code, payload
        except urllib.error.URLError as e:
            if isinstance(e.reason, ConnectionRefusedError):
                raise Definite("connect: connection refused")
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise Unknown("timeout")
            # No route, unreachable: the request never left.
            if isinstance(e.reason, OSError) and not isinstance(e.reason, ConnectionResetError):
                raise Definite("connect: %s" % e.reason)
            raise Unknown(str(e.reason))
        except (socket.timeout, TimeoutError):
            raise Unknown("timeout")
        except (ConnectionResetError, ValueError, OSError) as e:
            raise Unknown(str(e))

    def write(self, method, path, body):
        """A request that may change the store: its body when it did."""
        status, payload = self.call(method, path, body)
        return self.outcome(status, payload)

    def outcome(self, status, payload):
        """A write's answer: its body when it took effect; raises Definite
        when it certainly did not, Unknown when it may have."""
        if 200 <= status < 300:
            return payload
        if 400 <= status < 500:
            raise Definite("%d: %s" % (status, json.dumps(payload)))
        if (status == 503 and isinstance(payload, dict)
                and payload.get("error") == "quorum" and "replies" in payload):
            # Missed the read quorum it takes before changing anything.
            raise Definite("%d: %s" % (status, json.dumps(payload)))
        raise Unknown("%d: %s" % (status, json.dumps(payload)))

    def read(self, path):
        """A read: its body, or None when no replica holds the key. A read
        changes nothing, so any failure is definite."""
        try:
            status, payload = self.call("GET", path)
        except Unknown as e:
            raise Definite(str(e))
        if status == 404:
            return None
        # 300 Multiple Choices: concurrent siblings, a full answer.
        if 200 <= status < 300 or status == 300:
            return payload
        raise Definite("%d: %s" % (status, json.dumps(payload)))


def segment(key):
    return urllib.parse.quote(key, safe="")


# What this adapter maps (its hello says so): every live workload.
WORKLOADS = ["set", "register", "counter", "siblings", "or-set", "sequence", "session"]
# Those whose replicas it reads uncoordinated (convergence). Not register:
# ringkv's Paxos registers have no anti-entropy, their replicas need not agree.
READ_LOCAL = ["set", "counter", "siblings", "or-set", "sequence", "session"]
# ringkv places a CRDT key, and a Paxos register, by its namespaced name.
NAMESPACE = {"counter": "counter/", "or-set": "orset/", "sequence": "seq/", "register": "cas/"}


def local(store, kind, k):
    """This node's own replica, as ringkv's admin API shows it (None: absent)."""
    return {"type": "ok", "value": store.read("/admin/local/%s/%s" % (kind, k))}


def handle(store, workload, worker, req):
    """The reply (without its id) to one request."""
    f, key, value = req.get("f"), req.get("key", ""), req.get("value")
    k = segment(key)
    if f == "hello":
        return {"type": "ok", "protocol": 2, "workloads": WORKLOADS,
                "read_local": READ_LOCAL, "preflist": True}
    if f == "preflist":
        body = store.read("/admin/preflist/" + segment(NAMESPACE.get(workload, "") + key))
        return {"type": "ok", "value": body["nodes"]}
    if workload == "set":
        if f == "add":
            store.write("POST", "/set/" + k, {"element": value})
            return {"type": "ok"}
        if f == "read":
            body = store.read("/set/" + k)
            return {"type": "ok", "value": [] if body is None else body["elements"]}
        if f == "read-local":
            body = store.read("/admin/local/set/" + k)
            return {"type": "ok", "value": None if body is None else body["elements"]}
    elif workload == "register":
        # ringkv's Paxos registers: linearizable.
        if f == "read":
            body = store.read("/cas/" + k) or {}
            return {"type": "ok", "value": body.get("value"), "version": body.get("version")}
        if f == "write":
            body = store.write("PUT", "/cas/" + k, {"value": value})
            return {"type": "ok", "version": body.get("version")}
        if f == "cas":
            old, new = value
            status, body = store.call("POST", "/cas/" + k, {"expected": old, "value": new})
            if status == 409:
                return {"type": "fail", "error": "mismatch"}
            if 200 <= status < 300:
                return {"type": "ok"}
            if 400 <= status < 500:
                raise Definite("%d: %s" % (status, json.dumps(body)))
            raise Unknown("%d: %s" % (status, json.dumps(body)))
    elif workload == "counter":
        # ringkv's PN-counter: the store merges concurrent adds.
        if f == "add":
            store.write("POST", "/counter/" + k, {"delta": value})
            return {"type": "ok"}
        if f == "read":
            body = store.read("/counter/" + k)
            return {"type": "ok", "value": 0 if body is None else body["value"]}
        if f == "read-local":
            return local(store, "counter", k)
    elif workload == "siblings":
        # A register that keeps concurrent writes as siblings, with the
        # causal context a read hands back to the next write.
        if f == "read":
            body = store.read("/kv/" + k)
            if body is None:
                return {"type": "ok", "value": [], "context": None}
            siblings = body["siblings"] if "siblings" in body else [body.get("value")]
            return {"type": "ok", "value": siblings, "context": body.get("context")}
        if f == "write":
            body = {"value": value}
            if req.get("context") is not None:
                body["context"] = req["context"]
            # Named per worker, for ringkv's per-client vector clocks.
            store.write("PUT", "/kv/%s?client=%s" % (k, segment(worker)), body)
            return {"type": "ok"}
        if f == "read-local":
            return local(store, "kv", k)
    elif workload == "or-set":
        if f in ("add", "remove"):
            store.write("POST", "/orset/" + k, {f: value})
            return {"type": "ok"}
        if f == "read":
            body = store.read("/orset/" + k)
            return {"type": "ok", "value": [] if body is None else body.get("elements", [])}
        if f == "read-local":
            return local(store, "orset", k)
    elif workload == "sequence":
        # ringkv's RGA list: an insert goes right after the element holding
        # `after` (resolved against a read quorum: a 409 when none holds
        # it, which changed nothing), or at the end.
        if f == "insert":
            body = {"insert": value}
            if req.get("after") is not None:
                body["after"] = req["after"]
            status, payload = store.call("POST", "/seq/" + k, body)
            if status == 409:
                return {"type": "fail", "error": "missing"}
            store.outcome(status, payload)
            return {"type": "ok"}
        if f == "delete":
            store.write("POST", "/seq/" + k, {"remove": value})
            return {"type": "ok"}
        if f == "read":
            body = store.read("/seq/" + k)
            return {"type": "ok", "value": [] if body is None else body.get("items", [])}
        if f == "read-local":
            return local(store, "seq", k)
    elif workload == "session":
        # Last-write-wins registers: the version is the value's timestamp.
        if f == "read":
            body = store.read("/kv/" + k)
            if body is None:
                return {"type": "ok", "value": None}
            value = body["siblings"][0] if "siblings" in body else body.get("value")
            return {"type": "ok", "value": value, "version": body.get("timestamp")}
        if f == "write":
            body = store.write("PUT", "/kv/" + k, {"value": value})
            return {"type": "ok", "version": body.get("timestamp")}
        if f == "read-local":
            return local(store, "kv", k)
    return {"type": "fail", "error": "ringkv_adapter: no op %r for workload %s" % (f, workload)}


def serve(args):
    # faultline waits op_timeout_ms + 500 ms for a reply: answer "info"
    # ourselves before that, so a slow node is an unknown outcome rather
    # than a killed adapter.
    store = Ringkv(args.addr, args.timeout_ms / 1000.0)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            reply = handle(store, args.workload, args.worker, req)
        except Definite as e:
            reply = {"type": "fail", "error": str(e)}
        except Unknown as e:
            reply = {"type": "info", "error": str(e)}
        reply["id"] = req["id"]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    # stdin closed: faultline is done with us.


def admin(args):
    store = Ringkv(args.addr, 5.0)
    if args.action == "ready":
        status = store.read("/admin/status")
        # Every configured node is in the ring, but those known to have
        # left it (the membership nemesis).
        gone = {m["name"] for m in status["members"] if str(m["status"]).lower() != "valid"}
        missing = sorted(set(status["nodes"]) - set(status["ring"]) - gone)
        if missing:
            sys.stderr.write("%s: not yet in the ring: %s\n" % (args.addr, ", ".join(missing)))
            sys.exit(1)
        return
    status, body = store.call("POST", "/admin/" + args.action)
    if status != 200:
        sys.stderr.write("POST /admin/%s on %s: %d %s\n" % (args.action, args.addr, status, body))
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("client", help="speak faultline's protocol on stdin/stdout")
    c.add_argument("--addr", required=True, help="the node's IP:PORT")
    c.add_argument("--workload", required=True, choices=WORKLOADS)
    c.add_argument("--worker", default="", help="the client's name ({{ worker }})")
    c.add_argument("--timeout-ms", type=int, default=2000, help="limit per HTTP request")
    a = sub.add_parser("admin", help="make a node leave or join the ring, or say if it is ready")
    a.add_argument("action", choices=["leave", "join", "ready"])
    a.add_argument("addr", help="the node's IP:PORT")
    args = p.parse_args()
    if args.command == "client":
        serve(args)
    else:
        try:
            admin(args)
        except (Definite, Unknown) as e:
            sys.stderr.write("ringkv_adapter: %s\n" % e)
            sys.exit(1)


if __name__ == "__main__":
    main()
