'use strict';
// One call's life on an entry, shared by run and run_batch (begin, build, end), and the
// checks of a request before it reaches an entry.
const { cancelOps } = require('./entry');
const { memory, evict } = require('./pool');
const { classify } = require('./results');
const { inflight, running } = require('./watchdog');

function callBegin(entry, call) {
  call.startedAt = Date.now();
  call.rssStart = memory.lastRss;
  inflight.add(call.id);
  entry.current = call;
  entry.lastCall = call;
  call.entry = entry;
  running.add(call);
}

function callEnd(entry, call) {
  running.delete(call);
  cancelOps(call);
  if (entry.outbox) entry.outbox.clear();
  entry.current = null;
  inflight.delete(call.id);
  if (!entry.key || entry.evicted) entry.dispose();
  else memory.trimWarm(evict);
}

// Builds a disposed or new isolate; the build error result when that fails (else null).
async function ensureBuilt(entry, call) {
  if (entry.isolate && !entry.isolate.isDisposed) return null;
  entry.dispose();
  try {
    await entry.build(call);
    return null;
  } catch (e) {
    const failure = classify(e, call, entry);
    // Host-side frames are noise for the user: keep only the error line.
    if (failure.error.stack) failure.error.stack = `${failure.error.type}: ${failure.error.message}`;
    entry.dispose();
    return failure;
  }
}

// The error result of a failed apply. A timed-out isolate is always disposed, so module
// state after a Timeout reliably starts over; so is one killed by its memory limit.
function applyFailure(e, call, entry) {
  const failure = classify(e, call, entry);
  if (call.timedOut || failure.error.type === 'Timeout' || /memory limit/i.test(String(e && e.message))) entry.dispose();
  return failure;
}

// CPU time the isolate spent since the entry's last reading (it only runs for the current call).
function cpuSince(entry, iso) {
  if (entry.lastCpu === undefined) entry.lastCpu = 0n;
  try {
    if (!iso.isDisposed) { const now = iso.cpuTime; const spent = now - entry.lastCpu; entry.lastCpu = now; return spent; }
  } catch (e) { /* disposed */ }
  return 0n;
}

// ---- payload checks (also done in Python) ------------------------------------------
function jsonDepth(s) {
  let depth = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++; // backslash
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 123 || c === 91) { if (++depth > max) max = depth; }
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

function preflight(msg) {
  if (typeof msg.code !== 'string') return 'code must be a string';
  if (!['source', 'destination', 'insert_destination', 'insert_source'].includes(msg.kind)) return `unknown kind ${msg.kind}`;
  if (typeof msg.payload !== 'string' || typeof msg.settings !== 'string') return 'payload and settings must be JSON strings';
  return null;
}

module.exports = { callBegin, callEnd, ensureBuilt, applyFailure, cpuSince, jsonDepth, preflight };
