'use strict';
// op `run_batch`: the events of a batch, each to its per-type handler, in one apply.
const { config: CONFIG } = require('./limits');
const { fetchAnswers, newOpState, cancelOps } = require('./entry');
const { lookupEntry, memory } = require('./pool');
const { callBegin, callEnd, ensureBuilt, applyFailure, cpuSince, jsonDepth, preflight } = require('./calls');
const { errorResult, strikeField } = require('./results');
const { untilKilled } = require('./watchdog');

function handleRunBatch(msg) {
  const count = Number(msg.count);
  if (!Number.isInteger(count) || count < 0 || count > 100000) {
    return Promise.resolve(JSON.stringify({ id: msg.id, error: 'run_batch needs an integer count' }));
  }
  const all = (r) => Promise.resolve(JSON.stringify({
    id: msg.id, results: Array.from({ length: count }, () => ({ result: r, requests: [], duration_ms: 0, cpu_ms: 0 })), duration_ms: 0, cpu_ms: 0,
  }));
  const bad = preflight(msg) || (msg.kind === 'source' ? 'run_batch is for destination and insert functions' : null);
  if (bad) return all(errorResult('InvalidRequest', bad));
  if (msg.payload.length + msg.settings.length > CONFIG.maxPayloadBytes) {
    return all(errorResult('PayloadTooLarge', `payload over ${CONFIG.maxPayloadBytes} bytes`));
  }
  // The array itself is one level.
  if (jsonDepth(msg.payload) > CONFIG.maxDepth + 1 || jsonDepth(msg.settings) > CONFIG.maxDepth) {
    return all(errorResult('PayloadTooDeep', `payload nested deeper than ${CONFIG.maxDepth} levels`));
  }
  if (count === 0) return Promise.resolve(JSON.stringify({ id: msg.id, results: [], duration_ms: 0, cpu_ms: 0 }));
  msg.count = count;
  const entry = lookupEntry(msg);
  return entry.enqueue(() => executeBatch(entry, msg));
}

// run_batch: every event of msg.payload (a JSON array of msg.count events) to its per-type
// handler, sequentially, in one apply. Each event has its own deadline (timeout_ms from
// its start); the whole batch has min(maxTimeoutMs, timeout_ms + count * allowance).
function batchDeadlineMs(timeoutMs, count) {
  return Math.min(CONFIG.maxTimeoutMs, timeoutMs + count * CONFIG.batchEventAllowanceMs);
}

async function executeBatch(entry, msg) {
  const count = msg.count;
  const timeoutMs = Math.min(Math.max(1, Number(msg.timeout_ms) || CONFIG.defaultTimeoutMs), CONFIG.maxTimeoutMs);
  const t0 = process.hrtime.bigint();
  const now0 = Date.now();
  const call = Object.assign(newOpState(now0 + batchDeadlineMs(timeoutMs, count)), {
    id: msg.id, timeoutMs, timedOut: false, count, answers: fetchAnswers.forCall(msg.answers),
    events: new Array(count), results: new Array(count), doneAt: new Array(count), doneCount: 0,
  });
  call.evDeadline = Math.min(call.deadline, now0 + timeoutMs); // the build counts toward event 0
  let failure = null; // error result of the event that stopped the batch
  let ran = 0;
  let cpuNs = 0n;
  callBegin(entry, call);
  try {
    failure = await ensureBuilt(entry, call);
    if (!failure) {
      const iso = entry.isolate;
      try {
        ran = await untilKilled(call, entry.invokeBatchRef.apply(undefined, [msg.payload, msg.settings, count, timeoutMs, call.deadline],
          { result: { promise: true } }));
      } catch (e) {
        failure = applyFailure(e, call, entry);
      }
      cpuNs = cpuSince(entry, iso);
      // Over its limit after the batch: the events keep their results, the isolate starts over.
      if (await memory.overLimit(entry, cpuNs)) entry.dispose();
    }
  } finally {
    for (const st of call.events) if (st) cancelOps(st);
    callEnd(entry, call);
  }
  const t1 = process.hrtime.bigint();
  const done = call.doneCount;
  // Events after the last finished one: the one in progress gets the failure (Timeout,
  // MemoryLimit, ...); the ones never started get the same type with a "not run" message.
  // Any other failure of the apply (build error, invalid payload) concerns every event.
  const stops = failure && (failure.error.type === 'Timeout' || failure.error.type === 'MemoryLimit');
  const stopIdx = stops && done < count ? done : -1;
  if (stops && failure.error.type === 'Timeout' && (call.batchDeadlineHit || !call.timedOut)) {
    failure.error.message = `Function timed out: batch deadline of ${batchDeadlineMs(timeoutMs, count)} ms reached`;
  }
  // duration_ms per event: time between the host receiving consecutive event results
  // (event 0 from the start of the call, build included); cpu_ms: the batch's isolate CPU
  // time apportioned in proportion to those durations.
  const durNs = new Array(count).fill(0n);
  let prev = t0;
  let measured = 0n;
  for (let i = 0; i < done; i++) {
    const at = call.doneAt[i] || prev;
    durNs[i] = at > prev ? at - prev : 0n;
    prev = at;
    measured += durNs[i];
  }
  if (stopIdx >= 0) { durNs[stopIdx] = t1 > prev ? t1 - prev : 0n; measured += durNs[stopIdx]; }
  const cpuMs = Number(cpuNs) / 1e6;
  const parts = new Array(count);
  for (let i = 0; i < count; i++) {
    let json = call.results[i];
    if (json === undefined) {
      let r;
      if (failure) {
        r = stopIdx < 0 || i === stopIdx ? failure
          : errorResult(failure.error.type, `Not run: the batch stopped at event ${stopIdx} (${failure.error.type}: ${failure.error.message})`);
      } else if (i >= ran) {
        r = errorResult('Timeout', `Not run: batch deadline of ${batchDeadlineMs(timeoutMs, count)} ms reached before this event started`);
      } else r = errorResult('InternalError', 'event result lost');
      json = JSON.stringify(r);
    }
    const st = call.events[i];
    const d = Number(durNs[i]) / 1e6;
    const c = measured > 0n ? cpuMs * (Number(durNs[i]) / Number(measured)) : (done ? cpuMs / done : 0);
    parts[i] = `{"result":${json},"requests":${st ? JSON.stringify(st.requests) : '[]'},"captured":${st ? JSON.stringify(st.captured) : '[]'},"duration_ms":${d.toFixed(3)},"cpu_ms":${(i < done || i === stopIdx ? c : 0).toFixed(3)}}`;
  }
  return `{"id":${JSON.stringify(msg.id)},"results":[${parts.join(',')}],"duration_ms":${(Number(t1 - t0) / 1e6).toFixed(3)},"cpu_ms":${cpuMs.toFixed(3)}${strikeField(call)}}`;
}

module.exports = { handleRunBatch };
