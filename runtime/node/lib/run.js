'use strict';
// op `run`: one invocation (a source's request, a destination's event or batch array) on
// its entry.
const { config: CONFIG } = require('./limits');
const { fetchAnswers, newOpState } = require('./entry');
const { lookupEntry, memory } = require('./pool');
const { callBegin, callEnd, ensureBuilt, applyFailure, cpuSince, jsonDepth, preflight } = require('./calls');
const { errorResult, outputChecked, overLimitResult, strikeField } = require('./results');
const { untilKilled } = require('./watchdog');

function handleRun(msg) {
  const bad = preflight(msg);
  if (bad) return Promise.resolve(reply(msg.id, errorResult('InvalidRequest', bad)));
  if (msg.payload.length + msg.settings.length > CONFIG.maxPayloadBytes) {
    return Promise.resolve(reply(msg.id, errorResult('PayloadTooLarge', `payload over ${CONFIG.maxPayloadBytes} bytes`)));
  }
  if (jsonDepth(msg.payload) > CONFIG.maxDepth || jsonDepth(msg.settings) > CONFIG.maxDepth) {
    return Promise.resolve(reply(msg.id, errorResult('PayloadTooDeep', `payload nested deeper than ${CONFIG.maxDepth} levels`)));
  }
  const entry = lookupEntry(msg);
  return entry.enqueue(() => execute(entry, msg));
}

function reply(id, result) {
  return JSON.stringify({ id, result, requests: [], duration_ms: 0, cpu_ms: 0 });
}

async function execute(entry, msg) {
  const timeoutMs = Math.min(Math.max(1, Number(msg.timeout_ms) || CONFIG.defaultTimeoutMs), CONFIG.maxTimeoutMs);
  const started = process.hrtime.bigint();
  const call = Object.assign(newOpState(Date.now() + timeoutMs), { id: msg.id, timeoutMs, timedOut: false, answers: fetchAnswers.forCall(msg.answers) });
  let result = null;
  let cpuNs = 0n;
  callBegin(entry, call);
  try {
    result = await ensureBuilt(entry, call);
    if (!result) {
      const iso = entry.isolate;
      try {
        result = await untilKilled(call, entry.invokeRef.apply(undefined, [msg.kind, msg.payload, msg.settings],
          { result: { promise: true } }));
      } catch (e) {
        result = applyFailure(e, call, entry);
      }
      cpuNs = cpuSince(entry, iso);
      if (await memory.overLimit(entry, cpuNs)) {
        result = overLimitResult(entry);
        entry.dispose();
      }
    }
  } finally {
    callEnd(entry, call);
  }
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  const resultJson = typeof result === 'string' ? outputChecked(result) : JSON.stringify(result);
  return `{"id":${JSON.stringify(msg.id)},"result":${resultJson},"requests":${JSON.stringify(call.requests)},"captured":${JSON.stringify(call.captured)},"duration_ms":${durationMs.toFixed(3)},"cpu_ms":${(Number(cpuNs) / 1e6).toFixed(3)}${strikeField(call)}}`;
}

module.exports = { handleRun };
