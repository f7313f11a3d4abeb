'use strict';
// The `node` bundle: Node's core modules for library bundles, built once at install time
// (build.js) and evaluated in an isolate before any library that needs it. Library bundles
// reach it through __sbNode.require(name), a non-enumerable, read-only global; user code
// has no `require`. Modules are made on first use.
const host = require('./host');
const stubs = require('./stubs');

const factories = {
  assert: () => require('assert/'),
  async_hooks: stubs.makeAsyncHooks,
  buffer: () => require('./buffer'),
  child_process: stubs.makeChildProcess,
  cluster: () => ({ isMaster: true, isPrimary: true, isWorker: false, workers: {}, fork: stubs.refuse('cluster.fork()') }),
  console: () => host.console,
  constants: () => Object.assign({}, nodeRequire('os').constants, __SB_CRYPTO_CONSTANTS__),
  crypto: () => require('./crypto'),
  dgram: () => ({ createSocket: stubs.refuse('dgram.createSocket()', 'no UDP in functions') }),
  diagnostics_channel: stubs.makeDiagnosticsChannel,
  dns: stubs.makeDns,
  domain: stubs.makeDomain,
  events: () => require('events/'),
  fs: stubs.makeFs,
  'fs/promises': () => nodeRequire('fs').promises,
  http: () => require('./http').makeModule('http:'),
  http2: () => stubs.http2,
  https: () => require('./http').makeModule('https:'),
  inspector: () => ({ open: stubs.refuse('inspector.open()'), url: () => undefined, Session: class Session {} }),
  module: () => stubs.moduleMod,
  net: stubs.makeNet,
  os: stubs.makeOs,
  path: () => require('path-browserify'),
  'path/posix': () => require('path-browserify'),
  perf_hooks: stubs.makePerfHooks,
  process: () => require('./process'),
  punycode: () => require('punycode/'),
  querystring: () => require('./querystring'),
  readline: () => ({ createInterface: stubs.refuse('readline.createInterface()', 'functions have no terminal') }),
  stream: () => require('./stream'),
  'stream/promises': () => require('./streampromises'),
  'stream/web': () => ({}),
  string_decoder: () => require('string_decoder/'),
  sys: () => nodeRequire('util'),
  timers: stubs.makeTimers,
  'timers/promises': () => nodeRequire('timers').promises,
  tls: stubs.makeTls,
  tty: () => stubs.tty,
  url: () => require('./url'),
  util: () => require('./util'),
  'util/types': () => nodeRequire('util').types,
  v8: () => ({ getHeapStatistics: () => ({}), serialize: stubs.refuse('v8.serialize()'), deserialize: stubs.refuse('v8.deserialize()') }),
  vm: stubs.makeVm,
  worker_threads: stubs.makeWorkerThreads,
  zlib: () => require('./zlib'),
};

const cache = Object.create(null);
const provided = Object.create(null); // modules of library bundles shared with later bundles
function nodeRequire(name) {
  const id = String(name).replace(/^node:/, '');
  if (id in cache) return cache[id];
  if (id in provided) return provided[id];
  const make = Object.prototype.hasOwnProperty.call(factories, id) ? factories[id] : null;
  if (!make) {
    const e = host.notSupported(`The module '${id}'`);
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  cache[id] = make();
  return cache[id];
}

function provide(id, exports) {
  if (!(id in provided)) provided[id] = exports;
}

// Evaluates another bundle now (host bridge: compiled once per host, V8 code cache).
function load(bundle) {
  const err = host.bridges.load ? host.bridges.load(String(bundle)) : 'the host cannot load bundles';
  if (err) throw host.notSupported(`The module bundle '${bundle}'`, err);
}

Object.defineProperty(globalThis, '__sbNode', {
  value: Object.freeze({ require: nodeRequire, provide, load, ModuleNotSupported: host.ModuleNotSupported }),
  writable: false,
  enumerable: false,
  configurable: false,
});

// Segment's `crypto` global is Node's module: give it what this layer adds.
if (host.crypto && typeof host.crypto === 'object') {
  const full = nodeRequire('crypto');
  for (const k of Object.keys(full)) if (!(k in host.crypto)) host.crypto[k] = full[k];
}
