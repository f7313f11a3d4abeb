'use strict';
// op `check`: evaluates a function's code in a fresh isolate (the save-time validation) and
// lists the handlers it defines, or gives the error with its position in the code.
const { config: CONFIG } = require('./limits');
const modules = require('./modules');
const { Entry, newOpState, cancelOps } = require('./entry');
const { LIST_SRC } = require('./scripts');
const { classify } = require('./results');
const { running, untilKilled } = require('./watchdog');

function errorPosition(e) {
  const text = `${e && e.stack}\n${e && e.message}`;
  const m = /function\.js:(\d+)(?::(\d+))?/.exec(text);
  return m ? { line: Number(m[1]), column: m[2] ? Number(m[2]) : null } : { line: null, column: null };
}

async function handleCheck(msg) {
  const entry = new Entry(null, String(msg.code || ''), msg.kind);
  // Loading preinstalled libraries is not the function's time (lib/modules.js).
  const checkMs = CONFIG.checkTimeoutMs + modules.loadAllowanceMs(entry.code);
  const call = Object.assign(newOpState(Date.now() + checkMs), { id: msg.id, timeoutMs: checkMs, timedOut: false });
  entry.current = call;
  call.entry = entry;
  running.add(call);
  let out;
  try {
    await entry.build(call);
    // Handlers may be getters: run on the isolate's thread, under the watchdog.
    const names = await untilKilled(call, entry.isolate.compileScriptSync(LIST_SRC).run(entry.context));
    out = { ok: true, error: null, handlers: names ? names.split(',') : [] };
  } catch (e) {
    const r = classify(e, call, entry);
    out = { ok: false, error: Object.assign({ type: r.error.type, message: r.error.message }, errorPosition(e)), handlers: [] };
  } finally {
    running.delete(call);
    cancelOps(call);
    entry.current = null;
    entry.dispose();
  }
  return JSON.stringify({ id: msg.id, check: out });
}

module.exports = { handleCheck };
