#!/usr/bin/env python3
"""A faultline adapter (protocol 2) for Garage's K2V and S3 APIs: Python 3,
standard library only, AWS SigV4 signed by hand.

faultline starts one of these per worker (and one per final reader), bound to
one node, and speaks JSON lines with it on stdin and stdout
(docs/adapters.md, protocol 2):

    -> {"id":0,"f":"hello","protocol":2,"workload":"siblings","node":"n1"}
    <- {"id":0,"type":"ok","protocol":2,"workloads":["set","register","siblings"],...}
    -> {"id":1,"f":"write","key":"s0","value":17,"context":null}
    <- {"id":1,"type":"ok"}

Usage:
    garage_adapter.py --k2v IP:PORT --s3 IP:PORT --timeout-ms N
                      [--workload W] [--bucket B] [--key-id GK...] [--secret S]

How each workload maps onto Garage (bucket `faultline`, created by
garage_cluster.py form):

- siblings: K2V item (partition `siblings`, sort key = the faultline key).
  `read` is ReadItem (GET, Accept: application/json): every concurrent value
  Garage keeps (its DVVS siblings) and the X-Garage-Causality-Token as
  `context`. `write` is InsertItem (PUT) with that token when `context` is
  given (it supersedes exactly the values the token covers), without it when
  `context` is null (a blind write: a new sibling beside whatever is there).
- set: one K2V partition per faultline key (`set-0` ...), each element its own
  sort key (never deleted). `add` is InsertItem without a token; `read` is
  ReadBatch over the partition (paged), returning the sort keys as integers.
- register: one S3 object per key (`register/r0` ...). Garage's S3 objects
  are last-writer-wins: a read returns the version with the greatest
  (timestamp in ms, version uuid), so a register read never sees siblings
  (a K2V item would, and a register read has no honest way to pick one).
  No `version` is reported: a GET gives the timestamp only to the second
  (Last-Modified) and no version id, so there is no integer the store orders
  values by that the adapter can read with the value in one request.
  `cas` replies fail/"unsupported": Garage 2.5.0 has no conditional PutObject
  (no If-Match / If-None-Match on writes) and K2V has no compare-and-set.
- session is not offered, for the reason `version` is absent above: the
  session checkers need a version on every read and write, and Garage gives
  none with the value.
- read-local (set, siblings): Garage has NO uncoordinated replica read; every
  K2V read goes through the node's table layer to the partition's replicas
  and waits for the read quorum (2 of 3 under `consistent`, 1 under
  `degraded`/`dangerous`, where a replica node prefers itself). What this
  adapter answers is the same read through this node with
  `X-Garage-Non-Monotonic-Read: true`, so that the read itself repairs
  nothing (a monotonic read would write the merged value back and make the
  replicas agree by the act of looking). Under `consistent` this is a quorum
  read, not one replica's state: the convergence checker sees what each node
  serves, not what each replica stores.

Outcomes (docs/adapters.md#outcomes):
- connection refused, no route, a connect timeout (nothing was sent): fail;
- a 4xx (bad token, denied, bad request: Garage rejected it before doing
  anything): fail;
- a timeout or a lost connection after the request was sent: info;
- a 5xx on a write: info. The K2V spec says it outright: "Internal server
  errors on updates do not mean that the update isn't stored" (a 503 quorum
  error may leave the value on one node, which anti-entropy spreads);
- any read that is not ok: fail (a read changes nothing... except the
  read-repair of a monotonic read, which only spreads values already written).

Diagnostics go to stderr; stdout carries replies only.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import socket
import sys
import time
import urllib.parse

# The key garage_cluster.py imports (fixed, so adapters know it without a
# lookup); a test cluster's credentials, not a secret.
DEFAULT_KEY_ID = "GK00000000000000000000fa17"
DEFAULT_SECRET = "faultline0000000000000000000000000000000000000000000000000000000"
DEFAULT_BUCKET = "faultline"
REGION = "garage"

WORKLOADS = ["set", "register", "siblings"]
READ_LOCAL = ["set", "siblings"]
SIBLINGS_PARTITION = "siblings"
CAUSALITY = "X-Garage-Causality-Token"


class Definite(Exception):
    """The request certainly had no effect: reply fail."""


class Unknown(Exception):
    """The request may have had an effect: reply info."""


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _quote(s):
    """SigV4 URI encoding: everything but unreserved characters."""
    return urllib.parse.quote(s, safe="-_.~")


def sign(method, host, path, query, headers, body, key_id, secret, service, now=None):
    """The headers (with Authorization) of an AWS SigV4-signed request.

    `path` is the already-encoded absolute path, `query` a list of (name,
    value) pairs (value may be ""), `headers` extra headers to sign."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    all_headers = {k.lower(): v.strip() for k, v in headers.items()}
    all_headers["host"] = host
    all_headers["x-amz-date"] = amz_date
    all_headers["x-amz-content-sha256"] = payload_hash
    names = sorted(all_headers)
    canonical_headers = "".join("%s:%s\n" % (n, all_headers[n]) for n in names)
    signed_headers = ";".join(names)
    canonical_query = "&".join(
        "%s=%s" % (_quote(k), _quote(v)) for k, v in sorted(query))
    # Garage (like AWS) URI-encodes the path a second time for every service
    # but S3 (garage_api_common signature/payload.rs).
    canonical_path = path if service == "s3" else urllib.parse.quote(path, safe="/-_.~")
    canonical_request = "\n".join([
        method, canonical_path, canonical_query, canonical_headers, signed_headers, payload_hash])
    scope = "%s/%s/%s/aws4_request" % (day, REGION, service)
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical_request.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), day)
    k = _hmac(k, REGION)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    signature = hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out = dict(headers)
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    out["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key_id, scope, signed_headers, signature)
    return out


class Api:
    """One Garage HTTP API (K2V or S3) on one node, with the outcome rules."""

    def __init__(self, addr, service, key_id, secret, timeout_s):
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.addr = addr
        self.service = service
        self.key_id = key_id
        self.secret = secret
        self.timeout = timeout_s

    def call(self, method, path, query=(), headers=None, body=b"", deadline=None):
        """(status, headers, body) for any HTTP answer. Raises Definite when
        the request never left (refused, unreachable, connect timeout),
        Unknown when it was sent and the answer was lost."""
        timeout = self.timeout
        if deadline is not None:
            timeout = max(0.05, min(timeout, deadline - time.monotonic()))
        headers = sign(method, self.addr, path, list(query), headers or {}, body,
                       self.key_id, self.secret, self.service)
        url = path
        if query:
            url += "?" + "&".join(
                _quote(k) + ("=" + _quote(v) if v != "" else "") for k, v in query)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            try:
                conn.connect()
            except (socket.timeout, TimeoutError):
                raise Definite("connect %s: timeout" % self.addr)
            except OSError as e:
                # Refused, no route, unreachable: nothing was sent.
                raise Definite("connect %s: %s" % (self.addr, e.strerror or e))
            try:
                conn.request(method, url, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (socket.timeout, TimeoutError):
                raise Unknown("timeout after %.1fs" % timeout)
            except (http.client.HTTPException, OSError) as e:
                raise Unknown("connection lost: %s" % (e,))
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def write(self, method, path, query=(), headers=None, body=b""):
        """A request that may change the store: 2xx or an exception."""
        status, hdrs, data = self.call(method, path, query, headers, body)
        if 200 <= status < 300:
            return hdrs, data
        msg = "%d: %s" % (status, _brief(data))
        if 400 <= status < 500:
            raise Definite(msg)
        # 5xx: "Internal server errors on updates do not mean that the
        # update isn't stored" (K2V spec).
        raise Unknown(msg)

    def read(self, method, path, query=(), headers=None, body=b"", deadline=None):
        """A read: (status, headers, body) with 2xx or 404; anything else,
        including a lost answer, is a definite failure (reads change nothing)."""
        try:
            status, hdrs, data = self.call(method, path, query, headers, body, deadline)
        except Unknown as e:
            raise Definite(str(e))
        if 200 <= status < 300 or status == 404:
            return status, hdrs, data
        raise Definite("%d: %s" % (status, _brief(data)))


def _brief(data):
    text = data.decode("utf-8", "replace").strip()
    return text[:300] if text else "(empty body)"


def _path(*segments):
    return "/" + "/".join(_quote(s) for s in segments)


def _int(blob):
    """A value this adapter wrote (the decimal text of an integer)."""
    return int(blob.decode())


class Garage:
    """The faultline ops on one node's K2V and S3 endpoints."""

    def __init__(self, args):
        t = args.timeout_ms / 1000.0
        self.k2v = Api(args.k2v, "k2v", args.key_id, args.secret, t)
        self.s3 = Api(args.s3, "s3", args.key_id, args.secret, t)
        self.bucket = args.bucket
        self.timeout = t
        self.page = 1000  # items per ReadBatch page

    # -- siblings: one K2V item per key --

    def item_read(self, partition, sort_key, local):
        headers = {"Accept": "application/json"}
        if local:
            headers["X-Garage-Non-Monotonic-Read"] = "true"
        status, hdrs, data = self.k2v.read(
            "GET", _path(self.bucket, partition), [("sort_key", sort_key)], headers)
        if status == 404:
            return None, None
        values = json.loads(data)
        # null stands for a tombstone; this adapter never deletes.
        siblings = sorted(_int(base64.b64decode(v)) for v in values if v is not None)
        return siblings, hdrs.get(CAUSALITY.lower())

    def item_write(self, partition, sort_key, value, context):
        headers = {"Content-Type": "application/octet-stream"}
        if context is not None:
            if not isinstance(context, str):
                raise Definite("context %r is not a causality token (a string)" % (context,))
            headers[CAUSALITY] = context
        self.k2v.write("PUT", _path(self.bucket, partition), [("sort_key", sort_key)],
                       headers, str(value).encode())

    # -- set: one K2V partition per key, one sort key per element --

    def set_add(self, key, element):
        self.item_write(key, str(element), element, None)

    def set_read(self, key, local):
        deadline = time.monotonic() + self.timeout
        headers = {"Content-Type": "application/json"}
        if local:
            headers["X-Garage-Non-Monotonic-Read"] = "true"
        elements, start, seen_any = [], None, False
        while True:
            search = {"partitionKey": key, "limit": self.page}
            if start is not None:
                search["start"] = start
            status, _, data = self.k2v.read(
                "POST", _path(self.bucket), [("search", "")], headers,
                json.dumps([search]).encode(), deadline)
            if status == 404:
                break
            result = json.loads(data)[0]
            for item in result["items"]:
                if any(v is not None for v in item["v"]):
                    elements.append(int(item["sk"]))
                    seen_any = True
            if not result.get("more"):
                break
            start = result["nextStart"]
        return sorted(elements), seen_any

    # -- register: one S3 object per key, last writer (by timestamp) wins --

    def register_read(self, key):
        status, _, data = self.s3.read("GET", _path(self.bucket, "register", key))
        return None if status == 404 else _int(data)

    def register_write(self, key, value):
        self.s3.write("PUT", _path(self.bucket, "register", key), (),
                      {"Content-Type": "application/octet-stream"}, str(value).encode())


def handle(g, workload, req):
    """The reply (without its id) to one request."""
    f, key, value = req.get("f"), req.get("key", ""), req.get("value")
    if workload == "siblings":
        if f in ("read", "read-local"):
            siblings, ct = g.item_read(SIBLINGS_PARTITION, key, f == "read-local")
            if f == "read-local":
                return {"type": "ok", "value": siblings}
            return {"type": "ok", "value": siblings or [], "context": ct}
        if f == "write":
            g.item_write(SIBLINGS_PARTITION, key, value, req.get("context"))
            return {"type": "ok"}
    elif workload == "set":
        if f == "add":
            g.set_add(key, value)
            return {"type": "ok"}
        if f == "read":
            return {"type": "ok", "value": g.set_read(key, False)[0]}
        if f == "read-local":
            elements, any_ = g.set_read(key, True)
            return {"type": "ok", "value": elements if any_ else None}
    elif workload == "register":
        if f == "read":
            return {"type": "ok", "value": g.register_read(key)}
        if f == "write":
            g.register_write(key, value)
            return {"type": "ok"}
        if f == "cas":
            return {"type": "fail", "error": "unsupported"}
    return {"type": "fail",
            "error": "garage_adapter: no op %r for workload %r" % (f, workload)}


def hello(req):
    wanted = req.get("workload")
    reply = {"type": "ok", "protocol": 2, "workloads": WORKLOADS,
             "read_local": READ_LOCAL, "preflist": False}
    if wanted is not None and wanted not in WORKLOADS:
        print("garage_adapter: workload %r is not mapped (only %s)" % (wanted, WORKLOADS),
              file=sys.stderr)
    return reply, wanted


def serve(args):
    g = Garage(args)
    workload = args.workload
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        rid = req.get("id")
        if req.get("f") == "hello":
            reply, wanted = hello(req)
            workload = wanted or workload
        else:
            try:
                reply = handle(g, workload, req)
            except Definite as e:
                reply = {"type": "fail", "error": str(e)}
            except Unknown as e:
                reply = {"type": "info", "error": str(e)}
            except (ValueError, KeyError, TypeError) as e:
                # Garage answered 2xx with something this adapter cannot
                # read: a write may have happened, a read did not succeed.
                kind = "fail" if req.get("f") in ("read", "read-local") else "info"
                reply = {"type": kind, "error": "unreadable answer: %r" % (e,)}
            if reply["type"] != "ok":
                print("garage_adapter: %s %s -> %s" % (req.get("f"), req.get("key"), reply),
                      file=sys.stderr)
        reply["id"] = rid
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--k2v", required=True, help="IP:PORT of this node's K2V API")
    p.add_argument("--s3", required=True, help="IP:PORT of this node's S3 API")
    p.add_argument("--timeout-ms", type=int, default=2000)
    p.add_argument("--workload", default=None, help="for protocol 1 (no hello)")
    p.add_argument("--bucket", default=DEFAULT_BUCKET)
    p.add_argument("--key-id", default=DEFAULT_KEY_ID)
    p.add_argument("--secret", default=DEFAULT_SECRET)
    serve(p.parse_args())


if __name__ == "__main__":
    main()
