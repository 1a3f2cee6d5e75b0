#!/usr/bin/env python3
"""A faultline adapter for pouchdb-server (the CouchDB protocol): Python 3, standard library only.

Every node runs its own pouchdb-server; each pulls the database `faultline`
from every other node by continuous replication (set up by `admin cluster`),
so any node takes writes for any document: multi-master. Concurrent updates
of one document on two nodes do not overwrite each other: replication keeps
both revisions, one wins (the same on every node, by a deterministic rule) and
the other is listed in `_conflicts` until a client resolves it.

faultline starts one `client` per worker and speaks adapter protocol 2 with it
on stdin and stdout (docs/adapters.md, JSON lines):

    -> {"id": 0, "f": "hello", "protocol": 2, "workload": "siblings", "node": "n1"}
    <- {"id": 0, "type": "ok", "protocol": 2, "workloads": [...], "read_local": [...], "preflist": false}
    -> {"id": 7, "f": "add", "key": "set-3", "value": 17}
    <- {"id": 7, "type": "ok"}

Usage:
    couch_adapter.py client --addr IP:PORT --workload W --conflicts merge|ignore
                            --timeout-ms N [--db NAME]
    couch_adapter.py admin install --dir DIR [--package-dir DIR]   (node.install)
    couch_adapter.py admin ready IP:PORT                           (node.ready)
    couch_adapter.py admin cluster --db NAME IP:PORT IP:PORT ...   (cluster.after_start)

How each workload maps to documents (one document per key, in database
`faultline`; `--conflicts` is the description's `conflicts` parameter):

- register: {"v": value}. read = GET (the winning revision); write = GET, then
  PUT over the winner's _rev (a create without _rev when absent); cas = GET,
  compare, PUT over that _rev. A client that ignores conflicts: the losing
  revisions of a partition are simply not seen.
- counter, conflicts=ignore: {"v": n}, add = GET, PUT n+delta with _rev: a
  read-modify-write that loses an update whenever two nodes increment
  concurrently (the loser becomes a conflict nobody reads).
- counter, conflicts=merge: a PN-counter in one document, {"p": {id: n},
  "n": {id: n}}: add reads every leaf revision, merges them entry-wise by
  max, adds the delta to this process's own entry, PUTs it over the winner
  and deletes the other leaves it merged. The entry id is fresh per process
  and changes after every unknown outcome, so no two writes that might not
  see each other ever touch the same entry: nothing is lost.
- set, conflicts=ignore: {"elements": [...]}, add = GET, PUT list+[e] (loses
  elements across a partition); conflicts=merge: add and read take the union
  of every leaf revision, add writes the union plus e over the winner and
  deletes the leaves it merged (loses nothing).
- siblings: {"v": value}. read = every non-deleted leaf revision (one GET
  ?open_revs=all): value = their values (winner first), context = their revs.
  write with a context = PUT over the first rev of the context, then delete
  the other revs of the context (CouchDB's conflict resolution); a context of
  [] (the key was absent) = create without _rev. A blind write (context null)
  is a client without conflict handling: GET the winner, PUT over it,
  overwriting a value it never showed anyone.
- read-local (every workload): the same reads. A GET on pouchdb-server never
  leaves the node, so every read here is already local.

Outcomes: "ok" only once the node confirmed the write; "fail" when it
certainly did nothing (connection refused or not made, a 409 conflict or any
other 4xx, a GET before the write that failed, any failed read); "info" when
the outcome is unknown (a timeout or a lost connection after the request was
sent, a 5xx to a write, siblings a write whose deletes of the revisions it
superseded had an unknown outcome). Diagnostics go to stderr; stdout carries
replies and nothing else.
"""
import argparse
import fcntl
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid

WORKLOADS = ["set", "register", "counter", "siblings"]
PACKAGE = "pouchdb-server"
VERSION = "4.2.0"


class Definite(Exception):
    """The request certainly had no effect: reply fail."""


class Unknown(Exception):
    """The request may have had an effect: reply info."""


class Couch:
    """One pouchdb-server node's HTTP API, one fresh connection per request so
    that a failure is known to have happened before or after sending."""

    def __init__(self, addr, timeout_s):
        host, _, port = addr.rpartition(":")
        self.host, self.port = host, int(port)
        self.timeout = timeout_s
        self.deadline = None

    def start_op(self):
        """Each op gets the adapter's whole budget, shared by its requests."""
        self.deadline = time.monotonic() + self.timeout

    def _left(self):
        if self.deadline is None:
            return self.timeout
        return self.deadline - time.monotonic()

    def call(self, method, path, body=None):
        """(status, JSON body). Raises Definite when the request was never
        sent, Unknown when it was sent and the answer was lost."""
        left = self._left()
        if left <= 0.01:
            raise Definite("timeout: the op's %d ms were spent before sending" % (self.timeout * 1000))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=left)
        try:
            try:
                conn.connect()
            except ConnectionRefusedError:
                raise Definite("connect: connection refused")
            except (socket.timeout, TimeoutError):
                raise Definite("connect: timeout")
            except OSError as e:
                raise Definite("connect: %s" % e)
            data = None if body is None else json.dumps(body).encode()
            headers = {"Accept": "application/json", "Connection": "close"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (socket.timeout, TimeoutError):
                raise Unknown("timeout")
            except (OSError, http.client.HTTPException) as e:
                raise Unknown("%s: %s" % (type(e).__name__, e))
            try:
                payload = json.loads(raw or b"null")
            except ValueError:
                payload = raw[:200].decode("utf-8", "replace")
            return resp.status, payload
        finally:
            conn.close()

    def read(self, path):
        """A GET: its body, or None on 404. Reads change nothing: any failure
        is definite."""
        try:
            status, payload = self.call("GET", path)
        except Unknown as e:
            raise Definite(str(e))
        if status == 404:
            return None
        if 200 <= status < 300:
            return payload
        raise Definite("GET %d: %s" % (status, json.dumps(payload)))

    def write(self, method, path, body):
        """A request that may change the store: its body when it did."""
        status, payload = self.call(method, path, body)
        if 200 <= status < 300:
            return payload
        if 400 <= status < 500:
            # 409 conflict (the _rev is no longer a leaf, or the document
            # exists): CouchDB checked before changing anything.
            raise Definite("%s %d: %s" % (method, status, json.dumps(payload)))
        raise Unknown("%s %d: %s" % (method, status, json.dumps(payload)))


class Doc:
    """One key's document in the database, with the reads and writes the
    workloads are made of."""

    def __init__(self, couch, db, key):
        self.couch = couch
        self.path = "/%s/%s" % (urllib.parse.quote(db, safe=""), urllib.parse.quote(key, safe=""))
        self.id = key

    def winner(self):
        """The winning revision's body (with _rev), or None: what a client
        that knows nothing of conflicts sees."""
        return self.couch.read(self.path)

    def leaves(self):
        """Every non-deleted leaf revision's body, the winner first (CouchDB's
        rule: highest generation, then highest revision hash); [] when
        absent."""
        body = self.couch.read(self.path + "?open_revs=all")
        if body is None:
            return []
        if not isinstance(body, list):
            raise Definite("GET open_revs=all: not a list: %s" % json.dumps(body)[:200])
        docs = [r["ok"] for r in body if isinstance(r, dict) and "ok" in r]
        docs = [d for d in docs if not d.get("_deleted")]
        docs.sort(key=rev_order, reverse=True)
        return docs

    def put(self, body, rev):
        """Write body as a child of rev (a create when rev is None)."""
        body = dict(body)
        if rev is not None:
            body["_rev"] = rev
        return self.couch.write("PUT", self.path, body)

    def delete_revs(self, revs):
        """Delete these leaf revisions (those a write superseded). A rev no
        longer a leaf (someone superseded it already) is no failure. Returns
        the errors of the others."""
        if not revs:
            return []
        db_path = self.path.rsplit("/", 1)[0]
        docs = [{"_id": self.id, "_rev": r, "_deleted": True} for r in revs]
        result = self.couch.write("POST", db_path + "/_bulk_docs", {"docs": docs})
        errors = []
        for r in result if isinstance(result, list) else []:
            if isinstance(r, dict) and r.get("error") and r.get("error") != "conflict":
                errors.append(r)
        return errors


def rev_order(doc):
    pos, _, digest = doc["_rev"].partition("-")
    return (int(pos), digest)


class Adapter:
    """The protocol-2 requests of one workload against one node."""

    def __init__(self, couch, db, workload, conflicts):
        self.couch = couch
        self.db = db
        self.workload = workload
        self.merge = conflicts == "merge"
        # The PN-counter entry this process writes (merge mode); renewed
        # after every unknown outcome.
        self.entry = uuid.uuid4().hex[:12]

    def doc(self, key):
        return Doc(self.couch, self.db, key)

    def handle(self, req):
        f, key, value = req.get("f"), req.get("key", ""), req.get("value")
        if f == "hello":
            return {
                "type": "ok",
                "protocol": 2,
                "workloads": WORKLOADS,
                "read_local": WORKLOADS,
                "preflist": False,
            }
        self.couch.start_op()
        handler = getattr(self, "%s_%s" % (self.workload, (f or "").replace("-", "_")), None)
        if f == "read-local":
            # Every GET on pouchdb-server answers from the node's own
            # database: a read is already local.
            handler = getattr(self, "%s_read" % self.workload, None)
        if handler is None:
            return {"type": "fail", "error": "unsupported: no op %r for workload %s" % (f, self.workload)}
        try:
            return handler(self.doc(key), value, req)
        except Unknown:
            self.entry = uuid.uuid4().hex[:12]
            raise

    # register
    def register_read(self, doc, _value, _req):
        body = doc.winner()
        return {"type": "ok", "value": None if body is None else body.get("v")}

    def register_write(self, doc, value, _req):
        body = doc.winner()
        doc.put({"v": value}, None if body is None else body["_rev"])
        return {"type": "ok"}

    def register_cas(self, doc, value, _req):
        old, new = value
        body = doc.winner()
        if body is None or body.get("v") != old:
            return {"type": "fail", "error": "mismatch"}
        doc.put({"v": new}, body["_rev"])
        return {"type": "ok"}

    # counter
    def counter_read(self, doc, _value, _req):
        if self.merge:
            p, n = merge_pn(doc.leaves())
            return {"type": "ok", "value": sum(p.values()) - sum(n.values())}
        body = doc.winner()
        return {"type": "ok", "value": 0 if body is None else body.get("v", 0)}

    def counter_add(self, doc, delta, _req):
        if not self.merge:
            body = doc.winner()
            current = 0 if body is None else body.get("v", 0)
            doc.put({"v": current + delta}, None if body is None else body["_rev"])
            return {"type": "ok"}
        leaves = doc.leaves()
        p, n = merge_pn(leaves)
        side = p if delta >= 0 else n
        side[self.entry] = side.get(self.entry, 0) + abs(delta)
        doc.put({"p": p, "n": n}, leaves[0]["_rev"] if leaves else None)
        self.supersede(doc, leaves[1:], harmless=True)
        return {"type": "ok"}

    # set
    def set_read(self, doc, _value, _req):
        if self.merge:
            return {"type": "ok", "value": sorted(union(doc.leaves()))}
        body = doc.winner()
        return {"type": "ok", "value": sorted(body.get("elements", [])) if body else []}

    def set_add(self, doc, element, _req):
        if not self.merge:
            body = doc.winner()
            elements = list(body.get("elements", [])) if body else []
            doc.put({"elements": elements + [element]}, None if body is None else body["_rev"])
            return {"type": "ok"}
        leaves = doc.leaves()
        elements = union(leaves)
        elements.add(element)
        doc.put({"elements": sorted(elements)}, leaves[0]["_rev"] if leaves else None)
        self.supersede(doc, leaves[1:], harmless=True)
        return {"type": "ok"}

    # siblings
    def siblings_read(self, doc, _value, _req):
        leaves = doc.leaves()
        return {
            "type": "ok",
            "value": [d.get("v") for d in leaves],
            "context": [d["_rev"] for d in leaves],
        }

    def siblings_write(self, doc, value, req):
        context = req.get("context")
        if context is None:
            # A client without conflict handling: overwrite what wins now.
            body = doc.winner()
            doc.put({"v": value}, None if body is None else body["_rev"])
            return {"type": "ok"}
        if not isinstance(context, list) or not all(isinstance(r, str) for r in context):
            return {"type": "fail", "error": "context is not a list of revs: %s" % json.dumps(context)}
        doc.put({"v": value}, context[0] if context else None)
        # The write supersedes every revision the read showed: delete the
        # others. Their outcome is the write's: unknown when unknown.
        self.supersede(doc, [{"_rev": r} for r in context[1:]], harmless=False)
        return {"type": "ok"}

    def supersede(self, doc, leaves, harmless):
        """Delete the leaves a successful write merged. When harmless (set and
        counter merge every leaf on read anyway) a failure only leaves a
        redundant leaf; otherwise (siblings) the op's outcome is unknown."""
        revs = [d["_rev"] for d in leaves]
        try:
            errors = doc.delete_revs(revs)
        except (Definite, Unknown) as e:
            if harmless:
                sys.stderr.write("couch_adapter: %s: deleting merged revs %s: %s\n" % (doc.id, revs, e))
                return
            raise Unknown("written, but deleting the revisions it superseded: %s" % e)
        if errors and not harmless:
            raise Unknown("written, but deleting the revisions it superseded: %s" % json.dumps(errors))


def union(leaves):
    out = set()
    for d in leaves:
        out.update(d.get("elements", []))
    return out


def merge_pn(leaves):
    p, n = {}, {}
    for d in leaves:
        for mine, theirs in ((p, d.get("p", {})), (n, d.get("n", {}))):
            for k, v in theirs.items():
                mine[k] = max(mine.get(k, 0), v)
    return p, n


def serve(args):
    # faultline waits op_timeout_ms + 500 ms for a reply: answer ourselves
    # within op_timeout_ms, so a slow node is an unknown outcome rather than
    # a killed adapter.
    couch = Couch(args.addr, args.timeout_ms / 1000.0)
    adapter = Adapter(couch, args.db, args.workload, args.conflicts)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reply = adapter.handle(req)
        except Definite as e:
            reply = {"type": "fail", "error": str(e)}
        except Unknown as e:
            reply = {"type": "info", "error": str(e)}
        reply["id"] = req.get("id")
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    # stdin closed: faultline is done with us.


# ---------------------------------------------------------------- admin


def die(msg):
    sys.stderr.write("couch: %s\n" % msg)
    sys.exit(1)


def install(args):
    """Install pouchdb-server into args.dir (idempotent, under a lock), from
    the npm registry only: no install script runs (they would download
    binaries from elsewhere); leveldown's prebuilt binary comes inside its npm
    package, and is compiled from source against this node's own headers when
    it does not load."""
    dest = os.path.abspath(args.dir)
    marker = os.path.join(dest, ".faultline-installed")
    if os.path.exists(marker):
        return
    for program, package in (("node", "nodejs"), ("npm", "npm")):
        if shutil.which(program) is None:
            die("cannot install %s: `%s` is missing (apt-get install %s)" % (PACKAGE, program, package))
    os.makedirs("/run/lock", exist_ok=True)
    with open("/run/lock/faultline-install.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker):
            return
        started = time.monotonic()
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = "%s.tmp-%d" % (dest, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(args.package_dir, name), tmp)
        run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], tmp,
            "npm ci of %s %s (from the npm registry)" % (PACKAGE, VERSION))
        leveldown = os.path.join(tmp, "node_modules", "leveldown")
        if os.environ.get("FAULTLINE_COUCH_BUILD_FROM_SOURCE") or not loads(leveldown):
            build_leveldown(leveldown)
            if not loads(leveldown):
                die("leveldown, built from source in %s, does not load (see above)" % leveldown)
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
        with open(marker, "w") as f:
            f.write("%s %s\n" % (PACKAGE, VERSION))
        sys.stderr.write("couch: installed %s %s in %s (%.0f s)\n"
                         % (PACKAGE, VERSION, dest, time.monotonic() - started))


def run(argv, cwd, what, env=None):
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=sys.stderr, timeout=540)
    except (OSError, subprocess.TimeoutExpired) as e:
        die("%s failed: %s" % (what, e))
    if proc.returncode != 0:
        die("%s failed with exit code %d (see above)" % (what, proc.returncode))


def loads(leveldown):
    check = "require(%s)" % json.dumps(leveldown)
    return subprocess.run(["node", "-e", check], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def build_leveldown(leveldown):
    """Compile leveldown with node-gyp against the headers of the installed
    node (never downloading them): needs make, g++, python3 and node's
    headers (Debian: libnode-dev, or nodejs from NodeSource)."""
    node = os.path.realpath(shutil.which("node"))
    nodedir = os.path.dirname(os.path.dirname(node))
    if not os.path.exists(os.path.join(nodedir, "include", "node", "node_api.h")):
        die("leveldown's prebuilt binary does not load here, and node's headers "
            "(%s/include/node/node_api.h) are missing to build it: apt-get install libnode-dev" % nodedir)
    for program in ("make", "g++", "python3"):
        if shutil.which(program) is None:
            die("leveldown's prebuilt binary does not load here, and `%s` is missing to build it "
                "(apt-get install build-essential python3)" % program)
    gyp = shutil.which("node-gyp")
    argv = [gyp] if gyp else None
    if argv is None:
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
        for candidate in (os.path.join(root, "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
                          "/usr/share/nodejs/node-gyp/bin/node-gyp.js"):
            if os.path.exists(candidate):
                argv = ["node", candidate]
                break
    if argv is None:
        die("leveldown's prebuilt binary does not load here, and node-gyp is missing to build it "
            "(apt-get install node-gyp)")
    shutil.rmtree(os.path.join(leveldown, "prebuilds"), ignore_errors=True)
    run(argv + ["rebuild", "--nodedir=" + nodedir, "-j", "2"], leveldown,
        "building leveldown from source with node-gyp")


def ready(args):
    couch = Couch(args.addr, 2.0)
    try:
        body = couch.read("/")
    except Definite as e:
        die("%s: %s" % (args.addr, e))
    if not isinstance(body, dict) or "version" not in body:
        die("%s: not pouchdb-server: %s" % (args.addr, json.dumps(body)[:200]))


def cluster(args):
    """Create the database on every node, then on every node one continuous
    pull replication from every other node, as documents of its _replicator
    database (pouchdb-server's replicator restarts them when the node
    restarts). Heartbeat 1 s: couch_server.js's idle timeout detects a peer
    cut off by a partition from its silence."""
    couches = {addr: Couch(addr, 10.0) for addr in args.addrs}
    db = urllib.parse.quote(args.db, safe="")
    for addr, couch in couches.items():
        status, body = couch.call("PUT", "/" + db)
        if status not in (201, 412):
            die("%s: creating database %s: %d %s" % (addr, args.db, status, json.dumps(body)))
    for addr, couch in couches.items():
        for peer in args.addrs:
            if peer == addr:
                continue
            doc_id = "faultline-pull-%s" % peer.replace(":", "-")
            spec = {
                "source": "http://%s/%s" % (peer, db),
                "target": args.db,
                "continuous": True,
                "heartbeat": 1000,
            }
            status, body = couch.call("PUT", "/_replicator/" + urllib.parse.quote(doc_id, safe=""), spec)
            if status not in (201, 202, 409):
                die("%s: replication from %s: %d %s" % (addr, peer, status, json.dumps(body)))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("client", help="speak faultline's protocol on stdin/stdout")
    c.add_argument("--addr", required=True, help="the node's IP:PORT")
    c.add_argument("--workload", required=True, choices=WORKLOADS)
    c.add_argument("--conflicts", default="merge", choices=["merge", "ignore"],
                   help="set and counter: merge every conflicting revision (nothing lost) "
                        "or read only the winner (updates lost across partitions)")
    c.add_argument("--db", default="faultline", help="the database")
    c.add_argument("--timeout-ms", type=int, default=2000, help="limit per op")
    a = sub.add_parser("admin", help="install, readiness, replication set-up")
    asub = a.add_subparsers(dest="action", required=True)
    i = asub.add_parser("install", help="install pouchdb-server into DIR")
    i.add_argument("--dir", required=True)
    i.add_argument("--package-dir", default=here, help="where package.json and package-lock.json are")
    r = asub.add_parser("ready", help="exit 0 once the node answers")
    r.add_argument("addr")
    k = asub.add_parser("cluster", help="create the database and replicate every pair of nodes")
    k.add_argument("--db", default="faultline")
    k.add_argument("addrs", nargs="+", help="every node's IP:PORT (one argument may hold several, "
                   "separated by spaces)")
    args = p.parse_args()
    if args.command == "admin" and args.action == "cluster":
        args.addrs = [a for arg in args.addrs for a in arg.split()]
    if args.command == "client":
        serve(args)
    elif args.action == "install":
        install(args)
    elif args.action == "ready":
        ready(args)
    else:
        try:
            cluster(args)
        except (Definite, Unknown) as e:
            die(str(e))


if __name__ == "__main__":
    main()
