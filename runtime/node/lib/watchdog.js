'use strict';
// The host's deadlines and its last resort: the wall-clock watchdog over the calls in
// progress, the promise race that answers a killed call, and the crash record written
// before the host aborts.
const fs = require('fs');
const { config: CONFIG } = require('./limits');

const inflight = new Set(); // request ids currently executing (for the crash record)

// The host cannot go on (an isolate's fatal V8 error, an isolate that does not stop, the
// host's memory ceiling): write the crash record naming the call to charge, then abort.
// sandbox.py reads the record from stderr: the culprit gets MemoryLimit or Crash (a
// circuit-breaker strike) and the other calls in flight are replayed in a fresh host.
function crashHost(reason, message, entry, call) {
  const c = call || (entry && (entry.current || entry.lastCall));
  const culprit = c && entry ? { id: c.id, instance_key: entry.instanceKey, code_hash: entry.codeHash } : null;
  // run_batch: the event in progress is the one charged; the others are replayed.
  if (culprit && c.events) culprit.event = c.doneCount;
  // Killed at its deadline while filling memory (nearLimitResult), then the isolate did not
  // stop or V8 failed on it: that call ran out of memory.
  if (culprit && c.nearLimitMb && reason !== 'oom') {
    message = `it was filling memory (the sandbox host grew by ${c.nearLimitMb} MB during the call) when stopped at its deadline, then: ${message}`;
    reason = 'memory';
  }
  try {
    fs.writeSync(2, `SANDBOX_CRASH ${JSON.stringify({ reason, message: String(message), culprit, inflight: Array.from(inflight) })}\n`);
  } catch (e) { /* nothing more we can do */ }
  process.abort();
}

// ---- wall-clock watchdog ----------------------------------------------------------------
// One sweep every WATCHDOG_TICK_MS instead of a timer per call (cheaper at high call
// rates). A call past its deadline gets its isolate disposed and is answered at once; this
// is the only way to stop code that spins after an await or never settles, and it is the
// only deadline enforcement (no isolated-vm `timeout`). A disposed isolate still busy in a
// builtin that never checks for termination (e.g. filling a huge sparse array) keeps its
// thread: if it has not stopped after CONFIG.stuckMs the host aborts, charging that call.
const WATCHDOG_TICK_MS = 10;
const running = new Set();
const stuck = new Set(); // {call, entry, since}: killed calls whose isolate has not stopped yet

// Started once by host.js: `memory` is the host's MemoryGuard (lib/pool.js), `evict` drops a
// warm entry.
function startWatchdog(memory, evict) {
  setInterval(() => {
    const now = Date.now();
    for (const call of running) {
      if (call.timedOut) continue;
      // run_batch calls also have a per-event deadline (evDeadline), moved on by eventDone.
      if (now >= call.deadline || (call.events && now >= call.evDeadline)) {
        call.timedOut = true;
        call.batchDeadlineHit = now >= call.deadline;
        call.nearLimitMb = memory.nearLimitMb(call, now);
        kill(call);
      }
    }
    for (const z of stuck) {
      if (now - z.since > CONFIG.stuckMs) crashHost('stuck', `isolate did not stop within ${CONFIG.stuckMs} ms of being disposed`, z.entry, z.call);
    }
    memory.tick(now, evict);
  }, WATCHDOG_TICK_MS);
}

// Disposes the call's isolate and settles untilKilled() at once.
function kill(call) {
  call.entry.dispose();
  if (call.onKill) call.onKill();
}

// `promise` (a build step or apply on the call's isolate), or a rejection once the call is
// killed and its isolate has stopped (`promise` settles: within milliseconds of the kill).
// Meanwhile the call is watched as possibly stuck: an isolate that does not stop takes the
// host down stuck_ms later, and the crash record charges the call, which then gets `Crash`
// (attributed, final) rather than a `Timeout` the pipeline would retry into the same crash.
function untilKilled(call, promise) {
  if (!call.killed) call.killed = new Promise((_, reject) => { call.onKill = () => reject(new Error('Isolate was disposed')); });
  call.killed.catch(() => {});
  return Promise.race([promise, call.killed]).catch(async (e) => {
    if (call.timedOut || (call.entry && !call.entry.isolate)) {
      const z = { call, entry: call.entry, since: Date.now() };
      stuck.add(z);
      await promise.then(() => {}, () => {});
      stuck.delete(z);
    }
    throw e;
  });
}

module.exports = { inflight, running, stuck, crashHost, startWatchdog, kill, untilKilled };
