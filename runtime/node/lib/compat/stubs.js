'use strict';
// Node core modules that need an operating system a function does not have. Requiring
// them works (libraries require them at load time); using them fails with
// ModuleNotSupported naming what was used, or answers as an empty system would.
const EventEmitter = require('events');
const host = require('./host');

const refuse = (what, why) => () => { throw host.notSupported(what, why); };

function enoent(syscall, path) {
  const e = new Error(`ENOENT: no such file or directory, ${syscall}${path !== undefined ? ` '${path}'` : ''}`);
  e.code = 'ENOENT';
  e.errno = -2;
  e.syscall = syscall;
  if (path !== undefined) e.path = String(path);
  return e;
}
function eacces(syscall, path) {
  const e = new Error(`EACCES: permission denied, ${syscall} '${path}'`);
  e.code = 'EACCES';
  e.errno = -13;
  e.syscall = syscall;
  e.path = String(path);
  return e;
}

// A file system with nothing in it and no right to write: SDKs that look for config or
// credential files find none.
function makeFs() {
  const fs = {};
  const READS = ['readFile', 'stat', 'lstat', 'readdir', 'access', 'open', 'realpath', 'readlink', 'opendir'];
  const WRITES = ['writeFile', 'appendFile', 'mkdir', 'rm', 'rmdir', 'unlink', 'rename', 'copyFile', 'chmod', 'chown', 'symlink', 'truncate', 'utimes', 'mkdtemp'];
  for (const n of READS) {
    fs[`${n}Sync`] = (p) => { throw enoent(n === 'readFile' ? 'open' : n, p); };
    fs[n] = (p, ...rest) => { const cb = rest.pop(); if (typeof cb === 'function') Promise.resolve().then(() => cb(enoent(n === 'readFile' ? 'open' : n, p))); };
  }
  for (const n of WRITES) {
    fs[`${n}Sync`] = (p) => { throw eacces(n, p); };
    fs[n] = (p, ...rest) => { const cb = rest.pop(); if (typeof cb === 'function') Promise.resolve().then(() => cb(eacces(n, p))); };
  }
  fs.existsSync = () => false;
  fs.exists = (p, cb) => { if (typeof cb === 'function') Promise.resolve().then(() => cb(false)); };
  fs.createReadStream = (p) => {
    const { Readable } = require('stream');
    const r = new Readable({ read() {} });
    Promise.resolve().then(() => r.destroy(enoent('open', p)));
    return r;
  };
  fs.createWriteStream = (p) => {
    const { Writable } = require('stream');
    const w = new Writable({ write(c, e, cb) { cb(eacces('open', p)); } });
    Promise.resolve().then(() => w.destroy(eacces('open', p)));
    return w;
  };
  fs.watch = refuse('fs.watch()');
  fs.watchFile = refuse('fs.watchFile()');
  fs.unwatchFile = () => {};
  fs.close = (fd, cb) => { if (typeof cb === 'function') Promise.resolve().then(() => cb(null)); };
  fs.closeSync = () => {};
  fs.constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128, O_TRUNC: 512, O_APPEND: 1024, S_IFMT: 61440, S_IFREG: 32768, S_IFDIR: 16384, S_IFLNK: 40960 };
  Object.assign(fs, fs.constants);
  fs.promises = {};
  for (const n of READS.concat(WRITES)) fs.promises[n] = (p) => Promise.reject((READS.includes(n) ? enoent : eacces)(n === 'readFile' ? 'open' : n, p));
  fs.promises.constants = fs.constants;
  fs.Stats = class Stats {};
  fs.ReadStream = class ReadStream {};
  fs.WriteStream = class WriteStream {};
  return fs;
}

function isIPv4(s) {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(String(s));
}
function isIPv6(s) {
  s = String(s);
  if (!/^[0-9a-fA-F:.]+$/.test(s.split('%')[0]) || s.indexOf(':') < 0) return false;
  s = s.split('%')[0];
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  const parts = s.replace('::', ':x:').split(':').filter((p) => p !== '');
  let groups = 0;
  for (const p of parts) {
    if (p === 'x') continue;
    if (p.indexOf('.') >= 0) { if (!isIPv4(p)) return false; groups += 2; continue; }
    if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return false;
    groups++;
  }
  return dbl.length === 2 ? groups < 8 : groups === 8;
}

function makeNet() {
  const why = 'no raw sockets in functions; use fetch or the https module';
  class Socket extends EventEmitter { constructor() { super(); throw host.notSupported('net.Socket', why); } }
  return {
    isIP: (s) => (isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0),
    isIPv4,
    isIPv6,
    Socket,
    Stream: Socket,
    Server: class Server { constructor() { throw host.notSupported('net.Server', why); } },
    connect: refuse('net.connect()', why),
    createConnection: refuse('net.createConnection()', why),
    createServer: refuse('net.createServer()', why),
    BlockList: class BlockList { addAddress() {} addRange() {} addSubnet() {} check() { return false; } },
    getDefaultAutoSelectFamily: () => true,
    setDefaultAutoSelectFamily() {},
  };
}

function makeTls() {
  const why = 'no raw sockets in functions; use fetch or the https module';
  return {
    connect: refuse('tls.connect()', why),
    createServer: refuse('tls.createServer()', why),
    createSecureContext: (o) => ({ context: {}, options: o }),
    checkServerIdentity: () => undefined,
    TLSSocket: class TLSSocket { constructor() { throw host.notSupported('tls.TLSSocket', why); } },
    rootCertificates: [],
    DEFAULT_ECDH_CURVE: 'auto',
    DEFAULT_MIN_VERSION: 'TLSv1.2',
    DEFAULT_MAX_VERSION: 'TLSv1.3',
    getCiphers: () => [],
  };
}

function makeDns() {
  const why = 'the host resolves names itself when a request is sent';
  const fail = (name) => (...args) => {
    const cb = args.pop();
    const e = host.notSupported(`dns.${name}()`, why);
    if (typeof cb === 'function') Promise.resolve().then(() => cb(e));
    else throw e;
  };
  const dns = {};
  for (const n of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname', 'resolveMx', 'resolveNs', 'resolveSrv', 'resolveTxt', 'reverse', 'lookupService']) dns[n] = fail(n);
  dns.promises = {};
  for (const n of Object.keys(dns)) if (n !== 'promises') dns.promises[n] = () => Promise.reject(host.notSupported(`dns.promises.${n}()`, why));
  dns.setServers = () => {};
  dns.getServers = () => [];
  dns.setDefaultResultOrder = () => {};
  return dns;
}

function makeChildProcess() {
  const why = 'functions cannot start processes';
  const cbFail = (name) => (...args) => {
    const cb = args.reverse().find((a) => typeof a === 'function');
    const e = host.notSupported(`child_process.${name}()`, why);
    if (cb) { Promise.resolve().then(() => cb(e, '', '')); const p = new EventEmitter(); p.kill = () => false; return p; }
    throw e;
  };
  return {
    exec: cbFail('exec'),
    execFile: cbFail('execFile'),
    spawn: refuse('child_process.spawn()', why),
    fork: refuse('child_process.fork()', why),
    execSync: refuse('child_process.execSync()', why),
    execFileSync: refuse('child_process.execFileSync()', why),
    spawnSync: refuse('child_process.spawnSync()', why),
  };
}

function makeOs() {
  return {
    EOL: '\n',
    platform: () => 'linux',
    type: () => 'Linux',
    arch: () => 'x64',
    release: () => '',
    version: () => '',
    machine: () => 'x86_64',
    hostname: () => 'localhost',
    homedir: () => '/home/function',
    tmpdir: () => '/tmp',
    endianness: () => 'LE',
    uptime: () => 0,
    loadavg: () => [0, 0, 0],
    totalmem: () => 128 * 1024 * 1024,
    freemem: () => 64 * 1024 * 1024,
    availableParallelism: () => 1,
    cpus: () => [],
    networkInterfaces: () => ({}),
    userInfo: () => ({ uid: 1000, gid: 1000, username: 'function', homedir: '/home/function', shell: null }),
    getPriority: () => 0,
    setPriority() {},
    devNull: '/dev/null',
    constants: { signals: {}, errno: {}, priority: {} },
  };
}

function makeDomain() {
  class Domain extends EventEmitter {
    constructor() { super(); this.members = []; }
    run(fn, ...args) { return fn(...args); }
    add(x) { this.members.push(x); }
    remove() {}
    bind(fn) { return fn; }
    intercept(fn) { return fn; }
    enter() {}
    exit() {}
    dispose() {}
  }
  return { Domain, active: null, create: () => new Domain(), createDomain: () => new Domain() };
}

function makeAsyncHooks() {
  class AsyncLocalStorage {
    constructor() { this._store = undefined; }
    getStore() { return this._store; }
    run(store, fn, ...args) {
      const prev = this._store;
      this._store = store;
      try { return fn(...args); } finally { this._store = prev; }
    }
    enterWith(store) { this._store = store; }
    exit(fn, ...args) { return this.run(undefined, fn, ...args); }
    disable() { this._store = undefined; }
    static bind(fn) { return fn; }
    static snapshot() { return (fn, ...args) => fn(...args); }
  }
  class AsyncResource {
    constructor(type) { this.type = type; }
    runInAsyncScope(fn, thisArg, ...args) { return fn.apply(thisArg, args); }
    emitDestroy() { return this; }
    bind(fn) { return fn.bind(this); }
    asyncId() { return 1; }
    triggerAsyncId() { return 0; }
    static bind(fn) { return fn; }
  }
  return {
    AsyncLocalStorage,
    AsyncResource,
    createHook: () => ({ enable() { return this; }, disable() { return this; } }),
    executionAsyncId: () => 1,
    triggerAsyncId: () => 0,
    executionAsyncResource: () => ({}),
  };
}

function makeTimers() {
  const t = {
    setTimeout: host.setTimeout,
    clearTimeout: host.clearTimeout,
    setInterval: host.setInterval,
    clearInterval: host.clearInterval,
    setImmediate: host.setImmediate,
    clearImmediate: host.clearImmediate,
  };
  t.promises = {
    setTimeout: (ms, value) => new Promise((resolve) => host.setTimeout(() => resolve(value), ms)),
    setImmediate: (value) => new Promise((resolve) => host.setImmediate(() => resolve(value))),
    scheduler: { wait: (ms) => new Promise((resolve) => host.setTimeout(resolve, ms)), yield: () => new Promise((resolve) => host.setImmediate(resolve)) },
  };
  return t;
}

function makePerfHooks() {
  const t0 = Date.now();
  const performance = {
    now: () => Date.now() - t0,
    timeOrigin: t0,
    mark() {},
    measure() {},
    getEntries: () => [],
    getEntriesByName: () => [],
    getEntriesByType: () => [],
    clearMarks() {},
    clearMeasures() {},
    toJSON: () => ({}),
  };
  return { performance, PerformanceObserver: class { observe() {} disconnect() {} }, monitorEventLoopDelay: () => ({ enable() {}, disable() {}, percentile: () => 0 }) };
}

const tty = {
  isatty: () => false,
  ReadStream: class ReadStream {},
  WriteStream: class WriteStream {},
};

function makeWorkerThreads() {
  return {
    isMainThread: true,
    parentPort: null,
    workerData: null,
    threadId: 0,
    Worker: class Worker { constructor() { throw host.notSupported('worker_threads.Worker', 'functions run on one thread'); } },
    MessageChannel: undefined,
  };
}

function makeVm() {
  const why = 'functions cannot create JavaScript contexts';
  return {
    runInNewContext: refuse('vm.runInNewContext()', why),
    runInContext: refuse('vm.runInContext()', why),
    runInThisContext: refuse('vm.runInThisContext()', why),
    createContext: refuse('vm.createContext()', why),
    isContext: () => false,
    Script: class Script { constructor() { throw host.notSupported('vm.Script', why); } },
    compileFunction: refuse('vm.compileFunction()', why),
  };
}

function makeDiagnosticsChannel() {
  const channel = (name) => ({ name, hasSubscribers: false, publish() {}, subscribe() {}, unsubscribe() { return false; }, bindStore() {}, runStores: (d, fn, t, ...a) => fn.apply(t, a) });
  return {
    channel,
    hasSubscribers: () => false,
    subscribe() {},
    unsubscribe() { return false; },
    tracingChannel: (name) => ({ start: channel(name), end: channel(name), asyncStart: channel(name), asyncEnd: channel(name), error: channel(name), hasSubscribers: false, traceSync: (fn, ctx, t, ...a) => fn.apply(t, a), tracePromise: (fn, ctx, t, ...a) => fn.apply(t, a), traceCallback: (fn, pos, ctx, t, ...a) => fn.apply(t, a) }),
  };
}

const http2 = {
  connect: refuse('http2.connect()', 'HTTP/2 and gRPC need sockets; use a REST API through fetch or https'),
  createServer: refuse('http2.createServer()'),
  createSecureServer: refuse('http2.createSecureServer()'),
  constants: {},
  getDefaultSettings: () => ({}),
  sensitiveHeaders: Symbol('nodejs.http2.sensitiveHeaders'),
};

const moduleMod = {
  createRequire: refuse('module.createRequire()', 'functions have no require'),
  builtinModules: [],
  isBuiltin: () => false,
};

module.exports = {
  makeFs,
  makeNet,
  makeTls,
  makeDns,
  makeChildProcess,
  makeOs,
  makeDomain,
  makeAsyncHooks,
  makeTimers,
  makePerfHooks,
  makeWorkerThreads,
  makeVm,
  makeDiagnosticsChannel,
  tty,
  http2,
  moduleMod,
  refuse,
};
