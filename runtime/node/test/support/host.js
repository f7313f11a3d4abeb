'use strict';
// Test support: the real sandbox host driven over its NDJSON protocol, and a local HTTP
// server standing in for a vendor's API that records every request it receives.
const path = require('path');
const http = require('http');
const { spawn } = require('child_process');

function startHost(extraEnv = {}) {
  const proc = spawn(process.execPath, ['--no-node-snapshot', path.join(__dirname, '..', '..', 'host.js')], {
    cwd: path.join(__dirname, '..', '..'),
    env: Object.assign({ PATH: process.env.PATH, FUNCTIONS_EGRESS_ALLOW: '127.0.0.1' }, extraEnv),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiters = new Map();
  let buf = '';
  let seq = 0;
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.ready) readyResolve();
      else if (waiters.has(msg.id)) { waiters.get(msg.id)(msg); waiters.delete(msg.id); }
    }
  });
  const call = (msg) => new Promise((resolve) => {
    const id = ++seq;
    waiters.set(id, resolve);
    proc.stdin.write(JSON.stringify(Object.assign({ id }, msg)) + '\n');
  });
  // The whole reply: {result, requests, duration_ms, cpu_ms}.
  const runFull = (code, payload, opts = {}) => call({
    op: 'run', kind: opts.kind || 'destination', code, payload: JSON.stringify(payload === undefined ? { type: 'track', event: 'E' } : payload),
    settings: JSON.stringify(opts.settings || {}), instance_key: opts.key || null, timeout_ms: opts.timeout || 5000,
  });
  const run = (code, payload, opts) => runFull(code, payload, opts).then((m) => m.result);
  return { proc, ready, run, runFull, call, stop: () => proc.kill() };
}

// A vendor stand-in on 127.0.0.1: records {method, url, headers, body (Buffer)} and answers
// with respond(req) -> {status, headers, body} (default 200 {}).
function startVendor(respond) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      requests.push(rec);
      const r = (respond && respond(rec)) || {};
      const body = r.body === undefined ? '{}' : typeof r.body === 'string' || Buffer.isBuffer(r.body) ? r.body : JSON.stringify(r.body);
      res.writeHead(r.status || 200, Object.assign({ 'content-type': 'application/json' }, r.headers));
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({ server, port, url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(r)) });
  }));
}

module.exports = { startHost, startVendor };
