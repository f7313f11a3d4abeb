'use strict';
// Sandbox host: a long-lived Node process that runs user functions in
// isolated-vm isolates. Speaks newline-delimited JSON on stdin/stdout (see
// docs/sandbox.md). Must be started as `node --no-node-snapshot host.js` on Node 24 (the
// flag is still needed with isolated-vm 7: without it the host hangs in the test suite).

// isolated-vm is compiled for one Node ABI: the Node.js 24 LTS pinned in engine/.
if (process.versions.node.split('.')[0] !== '24') {
  process.stderr.write(`sandbox host: Node.js 24.x is required, this is ${process.version}\n`);
  process.exit(78);
}

// The work is done in lib/: an op's path (run.js, batch.js, check.js), the entries and their
// isolates (entry.js, pool.js), the scripts run before user code (scripts.js), deadlines and
// the crash record (watchdog.js). Every limit, with its default in lib/limits.json;
// sandbox.py passes its SandboxLimits as SANDBOX_LIMITS (see docs/sandbox.md).
const { handleRun } = require('./lib/run');
const { handleRunBatch } = require('./lib/batch');
const { handleCheck } = require('./lib/check');
const { warm, memory, evict } = require('./lib/pool');
const { errorResult } = require('./lib/results');
const { startWatchdog } = require('./lib/watchdog');

startWatchdog(memory, evict);

// ---- NDJSON transport ------------------------------------------------------------------
let outBuf = [];
let flushScheduled = false;
let inFlight = 0;
function send(line) {
  outBuf.push(line);
  // With nothing else in flight there is nothing to coalesce with: answer at once (the
  // single-call latency), otherwise gather this turn's replies into one write.
  if (inFlight === 0) {
    flush();
    return;
  }
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}
function flush() {
  flushScheduled = false;
  if (!outBuf.length) return;
  const data = outBuf.join('\n') + '\n';
  outBuf = [];
  process.stdout.write(data);
}

function handleLine(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    send(JSON.stringify({ id: null, error: `invalid JSON: ${e.message}` }));
    return;
  }
  let p;
  switch (msg.op) {
    case 'run': p = handleRun(msg); break;
    case 'run_batch': p = handleRunBatch(msg); break;
    case 'check': p = handleCheck(msg); break;
    case 'ping': p = Promise.resolve(JSON.stringify({ id: msg.id, pong: true, warm: warm.size })); break;
    default: p = Promise.resolve(JSON.stringify({ id: msg.id, error: `unknown op ${msg.op}` }));
  }
  inFlight++;
  p.then(
    (line) => { inFlight--; send(line); },
    (e) => { inFlight--; send(JSON.stringify({ id: msg.id, result: errorResult('InternalError', String(e && e.message)), requests: [], duration_ms: 0, cpu_ms: 0 })); },
  );
}

let pending = [];
process.stdin.setEncoding('utf8'); // StringDecoder: multi-byte characters are never split
process.stdin.on('data', (s) => {
  let start = 0;
  let nl;
  while ((nl = s.indexOf('\n', start)) >= 0) {
    pending.push(s.slice(start, nl));
    const line = pending.join('');
    pending = [];
    if (line) handleLine(line);
    start = nl + 1;
  }
  if (start < s.length) pending.push(s.slice(start));
});
process.stdin.on('end', () => { flush(); process.exit(0); });
process.on('uncaughtException', (e) => {
  process.stderr.write(`sandbox host uncaught exception: ${e && e.stack}\n`);
});

process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, node: process.version }) + '\n');
