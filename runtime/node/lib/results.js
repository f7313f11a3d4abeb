'use strict';
// The error results the host itself gives a call (build failures, deadlines, memory, bad
// requests), in the shape of the shim's result envelope, and the host's own check of a
// result's size.
const { config: CONFIG } = require('./limits');

const PLATFORM_TYPES = new Set(['Timeout', 'MemoryLimit', 'Crash', 'SandboxUnavailable', 'PayloadTooLarge', 'PayloadTooDeep', 'InvalidRequest', 'InternalError']);

// Error text is cut as the shim cuts it (a top-level throw reaches the host uncut).
const cut = (s, max) => (s.length > max ? `${s.slice(0, max)}… [truncated]` : s);
function errorResult(type, message, stack) {
  const error = { type: cut(String(type), 256), message: cut(String(message), 8192), stack: cut(String(stack || ''), 16384) };
  return { status: 'error', error, returned: null, events: [], objects: [], logs: [] };
}

function classify(e, call, entry) {
  const msg = String((e && e.message) || e);
  if (call && call.memoryKilled) return hostMemoryResult(call);
  if (call && call.timedOut && call.nearLimitMb) return nearLimitResult(call);
  if (call && call.timedOut) return errorResult('Timeout', `Function timed out after ${call.timeoutMs} ms`);
  if (/memory limit/i.test(msg)) return errorResult('MemoryLimit', `Function exceeded the memory limit (${CONFIG.memoryMb} MB)`);
  if (entry && entry.isolate && entry.isolate.isDisposed) return errorResult('MemoryLimit', `Function was stopped: ${msg}`);
  // A user error that escaped the shim (e.g. thrown by top-level code): never a platform type.
  let type = (e && typeof e.name === 'string' && e.name) || 'Error';
  if (PLATFORM_TYPES.has(type)) type = 'Error';
  return errorResult(type, msg, e && typeof e.stack === 'string' ? e.stack : '');
}

function hostMemoryResult(call) {
  return errorResult('MemoryLimit', `Function stopped: the sandbox host's memory reached ${call.memoryKilled} MB during this call `
    + `(ceiling ${CONFIG.hostMemoryMb} MB); limit per function ${CONFIG.memoryMb} MB`);
}

function nearLimitResult(call) {
  return errorResult('MemoryLimit', `Function exceeded the memory limit (${CONFIG.memoryMb} MB): it was still filling memory `
    + `when stopped at its deadline of ${call.timeoutMs} ms (the sandbox host grew by ${call.nearLimitMb} MB during the call)`);
}

function overLimitResult(entry) {
  return errorResult('MemoryLimit', `Function exceeded the memory limit (${CONFIG.memoryMb} MB): its isolate held `
    + `${Math.round((entry.bytes - entry.baseline) / 1048576)} MB after the call`);
}

// The shim caps a call's result JSON at maxOutputBytes (lib/shim/invoke.js, charge); this checks it
// again on the host, by length (UTF-16 units never exceed UTF-8 bytes), in case it did not.
const OUTPUT_SLACK = 65536;
function outputChecked(json) {
  if (json.length <= CONFIG.maxOutputBytes + OUTPUT_SLACK) return json;
  return JSON.stringify(errorResult('PayloadTooLarge', `Function output too large: more than ${CONFIG.maxOutputBytes} bytes of JSON`));
}

// A call stopped at its deadline while filling memory (nearLimitResult) is a circuit-breaker
// strike, as the host crash it was heading for would have been (sandbox.py reads the field).
function strikeField(call) {
  return call.nearLimitMb ? ',"strike":true' : '';
}

module.exports = { errorResult, classify, hostMemoryResult, nearLimitResult, overLimitResult, outputChecked, strikeField };
