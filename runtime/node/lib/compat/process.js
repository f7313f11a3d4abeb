'use strict';
// A `process` for library code (user code has none, as on Segment): empty environment,
// stdout/stderr written to the captured console, no exit, no bindings.
const EventEmitter = require('events');
const host = require('./host');

const NODE_VERSION = typeof __SB_NODE_VERSION__ === 'string' ? __SB_NODE_VERSION__ : 'v20.0.0';

function lineWriter(level) {
  let pending = '';
  return {
    isTTY: false,
    columns: 80,
    fd: level === 'error' ? 2 : 1,
    write(chunk, enc, cb) {
      if (typeof enc === 'function') cb = enc;
      pending += typeof chunk === 'string' ? chunk : host.Buffer.from(chunk).toString('utf8');
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        host.console[level](pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (pending.length > 4096) { host.console[level](pending); pending = ''; }
      if (typeof cb === 'function') cb();
      return true;
    },
    end() {},
    on() { return this; },
    once() { return this; },
    removeListener() { return this; },
  };
}

const startNs = BigInt(Date.now()) * 1000000n;
function hrtimeNs() {
  return BigInt(Math.round(Date.now() * 1000)) * 1000n;
}
function hrtime(prev) {
  const ns = hrtimeNs() - startNs;
  let s = Number(ns / 1000000000n);
  let n = Number(ns % 1000000000n);
  if (prev) {
    s -= prev[0];
    n -= prev[1];
    if (n < 0) { s -= 1; n += 1e9; }
  }
  return [s, n];
}
hrtime.bigint = () => hrtimeNs() - startNs;

const proc = new EventEmitter();
Object.assign(proc, {
  title: 'node',
  version: NODE_VERSION,
  versions: { node: NODE_VERSION.replace(/^v/, '') },
  release: { name: 'node' },
  platform: 'linux',
  arch: 'x64',
  pid: 1,
  ppid: 0,
  argv: ['node'],
  execArgv: [],
  execPath: '/usr/bin/node',
  env: {},
  exitCode: undefined,
  browser: false,
  features: {},
  config: { variables: {} },
  stdout: lineWriter('log'),
  stderr: lineWriter('error'),
  stdin: { isTTY: false, on() { return this; }, resume() {}, pause() {} },
  nextTick(fn, ...args) { Promise.resolve().then(() => fn(...args)); },
  cwd() { return '/'; },
  chdir() { throw host.notSupported('process.chdir()'); },
  umask() { return 0o22; },
  getuid() { return 1000; },
  getgid() { return 1000; },
  geteuid() { return 1000; },
  getegid() { return 1000; },
  hrtime,
  uptime() { return Number(hrtime.bigint()) / 1e9; },
  memoryUsage() { return { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }; },
  cpuUsage() { return { user: 0, system: 0 }; },
  emitWarning() {},
  binding() { throw host.notSupported('process.binding()'); },
  exit() { throw host.notSupported('process.exit()', 'return from the handler instead'); },
  abort() { throw host.notSupported('process.abort()'); },
  kill() { throw host.notSupported('process.kill()'); },
});
proc.memoryUsage.rss = () => 0;
// axios and others pick their Node code path on Object.prototype.toString(process).
Object.defineProperty(proc, Symbol.toStringTag, { value: 'process' });

module.exports = proc;
