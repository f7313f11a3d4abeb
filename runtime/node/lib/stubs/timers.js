// Stand-in for Node's `timers` inside the isolate (used by xml2js for async parsing).
module.exports = {
  setImmediate: (fn, ...args) => globalThis.setTimeout(fn, 0, ...args),
  clearImmediate: (id) => globalThis.clearTimeout(id),
  setTimeout: (...a) => globalThis.setTimeout(...a),
  clearTimeout: (id) => globalThis.clearTimeout(id),
};
