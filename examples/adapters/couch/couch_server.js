#!/usr/bin/env node
// pouchdb-server for faultline: the stock server, with the replicator's
// outgoing requests made fit for a run with faults (the server has no option
// for any of this).
//
//   node couch_server.js INSTALL_DIR [pouchdb-server options...]
//
// INSTALL_DIR is where `couch_adapter.py admin install` put pouchdb-server
// (its node_modules/ holds pouchdb-server and its dependencies).
//
// 1. A bounded retry back-off. A continuous replication that loses its peer
//    retries after a back-off that doubles up to 10 minutes
//    (pouchdb-utils' defaultBackOff); a node killed or cut off for a minute
//    would then be caught up with only minutes after it is back. Here the
//    back-off doubles from 0.5 s up to FAULTLINE_COUCH_MAX_BACKOFF_MS (2000).
// 2. An idle timeout on every outgoing HTTP request (the replicator's
//    requests to its peers). PouchDB 7 sets none, so a long-poll whose peer
//    is partitioned away (packets dropped, no reset) waits for TCP to give up,
//    a quarter of an hour. The replications ask for a heartbeat (the peer
//    writes a newline every second while the long-poll waits), so a request
//    silent for FAULTLINE_COUCH_IDLE_MS (5000) is dead: it is destroyed and
//    the replication retries after the back-off above. For the heartbeat to
//    arrive, the requests ask for no compression (the peer's gzip holds the
//    newlines back), and a connection lost in the middle of a response fails
//    the body node-fetch parses (node-fetch 2.6.7 would wait for it forever).
// 3. An unhandled promise rejection is logged, not fatal. pouchdb-server
//    4.2.0 predates Node 15, which made them end the process; some of its
//    paths leave one (deleting a document of _replicator makes the
//    replicator look that document up again: an uncaught 404 that kills
//    the server), and the server was written for them to be warnings.
//
// Nothing else changes: the HTTP API, the storage (LevelDB through
// leveldown) and the replication protocol are pouchdb-server's own.
'use strict';

const http = require('http');
const path = require('path');
const { createRequire } = require('module');

const installDir = process.argv[2];
if (!installDir) {
  process.stderr.write('couch_server.js: usage: node couch_server.js INSTALL_DIR [pouchdb-server options...]\n');
  process.exit(2);
}
const serverMain = path.join(installDir, 'node_modules', 'pouchdb-server', 'lib', 'index.js');
let requireFromServer;
try {
  requireFromServer = createRequire(require.resolve(serverMain));
} catch (e) {
  process.stderr.write(`couch_server.js: pouchdb-server is not installed in ${installDir}: run couch_adapter.py admin install --dir ${installDir}\n`);
  process.exit(2);
}

const maxBackOff = Number(process.env.FAULTLINE_COUCH_MAX_BACKOFF_MS || 2000);
const idleMs = Number(process.env.FAULTLINE_COUCH_IDLE_MS || 5000);

// The pouchdb-utils the replicator uses (it reads defaultBackOff from the
// module at each retry, so replacing the export is enough).
const requireFromReplication = createRequire(requireFromServer.resolve('pouchdb-replication'));
const utils = requireFromReplication('pouchdb-utils');
utils.defaultBackOff = function boundedBackOff(previous) {
  const next = previous ? previous * 2 : 500;
  return Math.min(next, maxBackOff);
};

// node-fetch (under pouchdb-fetch) looks http.request up at each call.
const request = http.request;
http.request = function requestForReplication(...args) {
  const options = args.find((a) => a && typeof a === 'object' && a.headers);
  if (options) {
    // An uncompressed answer: the compression middleware of the peer holds
    // the heartbeat newlines of a long-poll back, which would make a healthy
    // idle peer look silent.
    options.headers['accept-encoding'] = ['identity'];
  }
  const req = request.apply(this, args);
  req.setTimeout(idleMs, () => req.destroy(new Error(`faultline: no data for ${idleMs} ms`)));
  req.on('response', (res) => {
    // node-fetch 2.6.7 pipes the response into the body it parses and never
    // hears of a connection lost before the end (a long-poll timed out above,
    // a peer killed mid-answer): the body, and with it the replication, would
    // wait forever. Fail the body instead, and the replication retries.
    const bodies = [];
    const pipe = res.pipe;
    res.pipe = function (dest, ...rest) {
      bodies.push(dest);
      return pipe.call(this, dest, ...rest);
    };
    let ended = false;
    res.on('end', () => { ended = true; });
    res.on('close', () => {
      if (ended) return;
      const lost = new Error('faultline: connection lost before the response ended');
      for (const body of bodies) body.destroy(lost);
    });
  });
  return req;
};

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`couch_server.js: unhandled rejection (ignored, as Node before 15 did): ${reason && reason.stack ? reason.stack.split('\n')[0] : JSON.stringify(reason)}\n`);
});

process.argv = [process.argv[0], 'pouchdb-server', ...process.argv.slice(3)];
requireFromServer(serverMain);
