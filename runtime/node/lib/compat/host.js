'use strict';
// What the Node-compatible layer takes from its surroundings, captured once when the `node`
// bundle is evaluated (before the user's code runs): the shim's raw host request, the
// shim's crypto object, the timers, and the host bridges of lib/modules.js (ivm Callbacks
// and References set as __sb_node_* globals just before this bundle runs, deleted here).
const g = globalThis;
const internals = g.__sbInternals || {};
const bridges = {};
for (const k of Object.getOwnPropertyNames(g)) {
  if (k.startsWith('__sb_node_')) {
    bridges[k.slice('__sb_node_'.length)] = g[k];
    delete g[k];
  }
}

class ModuleNotSupported extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModuleNotSupported';
    this.code = 'ERR_MODULE_NOT_SUPPORTED';
  }
}

function notSupported(what, why) {
  return new ModuleNotSupported(`${what} is not available in functions${why ? ` (${why})` : ''}`);
}

// Runs a host bridge that answers through a promise, blocking this isolate (not the host)
// until it settles. Falls back to a synchronous bridge where the isolate is being run
// synchronously (applySyncPromise needs an asynchronous entry into the isolate).
function callAsyncBridge(name, args) {
  const ref = bridges[name];
  if (!ref) throw new Error(`host bridge ${name} is missing`);
  return ref.applySyncPromise(undefined, args);
}

module.exports = {
  global: g,
  compat: internals.compat || null,
  bridges,
  callAsyncBridge,
  crypto: g.crypto,
  Buffer: g.Buffer,
  URL: g.URL,
  URLSearchParams: g.URLSearchParams,
  setTimeout: g.setTimeout,
  clearTimeout: g.clearTimeout,
  setInterval: g.setInterval,
  clearInterval: g.clearInterval,
  setImmediate: g.setImmediate,
  clearImmediate: g.clearImmediate,
  console: g.console,
  ModuleNotSupported,
  notSupported,
};
