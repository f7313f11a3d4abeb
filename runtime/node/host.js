'use strict';
// Sandbox host: a long-lived Node process that runs user functions in
// isolated-vm isolates. Speaks newline-delimited JSON on stdin/stdout (see
// docs/sandbox.md). Must be started as `node --no-node-snapshot host.js` on Node 24 (the
// flag is still needed with isolated-vm 7: without it the host hangs in the test suite).
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const ivm = require('isolated-vm');
const answers = require('./lib/answers');
const modules = require('./lib/modules');

// isolated-vm is compiled for one Node ABI: the Node.js 24 LTS pinned in engine/.
if (process.versions.node.split('.')[0] !== '24') {
  process.stderr.write(`sandbox host: Node.js 24.x is required, this is ${process.version}\n`);
  process.exit(78);
}

const env = process.env;
// Every limit, with its default in lib/limits.json; sandbox.py passes its SandboxLimits as
// SANDBOX_LIMITS (see docs/sandbox.md).
const { config: CONFIG } = require('./lib/limits');
const { Outbox } = require('./lib/outbox');
const { MemoryGuard } = require('./lib/memory');
const { HostWork } = require('./lib/hostwork');
const nodeBridges = require('./lib/nodebridge');
// isolated-vm's own limit leaves room for the platform's bundles (an AWS client is several
// MB of heap); the function's own limit, CONFIG.memoryMb, is checked above that baseline.
const PLATFORM_HEADROOM_MB = 32;
// The egress stack (lib/egress.js: net, http, https, dns, zlib) is loaded on the first fetch:
// without Node's startup snapshot (--no-node-snapshot) loading it costs about as much CPU as
// the rest of the host's start (~80 ms), and a restarted host should answer its replayed
// calls first. The first fetch of a host's life pays that once.
let egressLib = null;
let egressInstance = null;
function egressModule() {
  if (!egressLib) egressLib = require('./lib/egress');
  return egressLib;
}
function egress() {
  if (!egressInstance) {
    const { Egress, EgressPolicy } = egressModule();
    egressInstance = new Egress({
      policy: new EgressPolicy(env.FUNCTIONS_EGRESS_ALLOW || ''), perInstance: CONFIG.fetchSocketsPerInstance, total: CONFIG.fetchSocketsTotal,
    });
  }
  return egressInstance;
}
// Fetches answered here without the network (the platform's request inspector; a call's own rules).
const fetchAnswers = new answers.FetchAnswers(answers.parseRules(env.FUNCTIONS_FETCH_ANSWERS));
// Host-side crypto work of calls: sliced, paced and budgeted per call (lib/hostwork.js).
const hostWork = new HostWork(CONFIG);

// ---- scripts compiled once per host (V8 code cache) -----------------------------
const SHIM_SRC = fs.readFileSync(path.join(__dirname, 'dist', 'shim.js'), 'utf8'); // lib/shim/, built by build.js
// The limits the shim enforces inside the isolate (it throws to the user's code).
const SHIM_LIMITS = {};
for (const k of ['maxTimers', 'maxTimerStarts', 'minIntervalMs', 'maxLogLines', 'maxLogLineBytes', 'maxOutputBytes', 'maxIntlObjects']) SHIM_LIMITS[k] = CONFIG[k];
const DIST = path.join(__dirname, 'dist');
const LIBS = [
  // [bundle name, test on the user's code]
  // whatwg-url needs Buffer, so `buffer` is loaded whenever `url` is.
  ['buffer', (code, kind) => kind === 'source' || /\b(Buffer|crypto|buffer|uuidv5|URL|URLSearchParams)\b/.test(code)],
  ['url', (code, kind) => kind === 'source' || /\bURL(SearchParams)?\b/.test(code)],
  ['lodash', (code) => /(^|[^\w$.])_(?![\w$])/m.test(code)],
  ['moment', (code) => /\bmoment\b/.test(code)],
  ['xml', (code) => /(^|[^\w$.])xml(?![\w$])/m.test(code)],
  ['xml2js', (code) => /\bxml2js\b/.test(code)],
];
const libSources = {};
for (const [name] of LIBS) {
  const f = path.join(DIST, `${name}.js`);
  if (!fs.existsSync(f)) {
    process.stderr.write(`sandbox host: missing ${f}; run \`npm run build\` in runtime/node\n`);
    process.exit(78);
  }
  libSources[name] = fs.readFileSync(f, 'utf8');
}
const codeCache = new Map(); // name -> cachedData (ExternalCopy)

const HANDLERS = ['onRequest', 'onTrack', 'onIdentify', 'onPage', 'onScreen', 'onGroup', 'onAlias', 'onDelete', 'onBatch'];
const RESOLVER_SRC = `(function (n) { switch (n) {${HANDLERS.map((h) => ` case '${h}': return typeof ${h} === 'undefined' ? undefined : ${h};`).join('')} } return undefined; })`;
const LIST_SRC = `(function () { var r = [];${HANDLERS.map((h) => ` if (typeof ${h} === 'function') r.push('${h}');`).join('')} return r.join(','); })()`;

// ---- state ---------------------------------------------------------------------
const warm = new Map(); // key -> Entry (insertion order = LRU order)
const inflight = new Set(); // request ids currently executing (for the crash record)
let entrySeq = 0;

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

function runLib(isolate, context, name, source) {
  const cached = codeCache.get(name);
  const script = isolate.compileScriptSync(source, cached ? { filename: `${name}.js`, cachedData: cached } : { filename: `${name}.js` });
  script.runSync(context, { timeout: 2000 });
  script.release();
  if (!cached) {
    // Cached after the first run: compiling the same source again returns the script V8 just
    // ran (its per-isolate compilation cache), so the cache also holds every function that
    // run compiled, not only the top level (about 2x faster loads of the big bundles).
    const again = isolate.compileScriptSync(source, { filename: `${name}.js`, produceCachedData: true });
    if (again.cachedData) codeCache.set(name, again.cachedData);
    again.release();
  }
}

class Entry {
  constructor(key, code, kind, instanceKey, codeHash) {
    this.id = ++entrySeq;
    this.key = key;
    this.code = code;
    this.kind = kind;
    this.instanceKey = instanceKey || null;
    this.codeHash = codeHash || null;
    this.lastCall = null;
    this.isolate = null;
    this.tail = Promise.resolve();
    this.current = null;
    this.evicted = false;
  }

  enqueue(job) {
    const p = this.tail.then(job, job);
    this.tail = p.catch(() => {});
    return p;
  }

  // Builds isolate + context + shim + libraries. User code is run separately.
  buildBase() {
    const self = this;
    const isolate = new ivm.Isolate({
      memoryLimit: CONFIG.memoryMb + PLATFORM_HEADROOM_MB,
      onCatastrophicError: (message) => crashHost(/out.of.memory/i.test(message) ? 'oom' : 'fatal', message, self),
    });
    const context = isolate.createContextSync();
    const jail = context.global;
    jail.setSync('__sb_limits', JSON.stringify(SHIM_LIMITS));
    jail.setSync('__sb_hash', new ivm.Callback((...a) => hostWork.hashNow(self.current, ...a)));
    jail.setSync('__sb_random', new ivm.Callback((n) => hostWork.randomNow(self.current, n)));
    jail.setSync('__sb_uuid', new ivm.Callback(() => crypto.randomUUID()));
    jail.setSync('__sb_hash_turn', self.fairBridge((call, ...a) => hostWork.hash(call, ...a)));
    jail.setSync('__sb_random_turn', self.fairBridge((call, n) => hostWork.random(call, n)));
    jail.setSync('__sb_uuid_turn', self.fairBridge((call) => hostWork.uuid(call)));
    jail.setSync('__sb_fetch', new ivm.Callback((opId, specJson, ev, evDeadline) => self.startFetch(opId, specJson, ev, evDeadline), { ignored: true }));
    jail.setSync('__sb_timer', new ivm.Callback((id, ms, repeat, ev, evDeadline) => self.startTimer(id, ms, repeat, ev, evDeadline), { ignored: true }));
    jail.setSync('__sb_clear', new ivm.Callback((id, ev) => self.clearTimer(id, ev), { ignored: true }));
    jail.setSync('__sb_evend', new ivm.Callback((ev) => self.endEvent(ev), { ignored: true }));
    jail.setSync('__sb_evdone', new ivm.Callback((ev, json) => self.eventDone(ev, json), { ignored: true }));
    runLib(isolate, context, 'shim', SHIM_SRC);
    // Segment's preinstalled modules over the Node-compatible layer (lib/modules.js).
    const extra = modules.bundlesFor(this.code);
    for (const [name, wanted] of LIBS) {
      if (wanted(this.code, this.kind) || (extra.length && modules.BASE.includes(name))) runLib(isolate, context, name, libSources[name]);
    }
    this.loaded = new Set();
    this.lazyLoads = 0;
    this.pendingLibs = extra.filter((name) => name !== 'node'); // evaluated by build(), off this thread
    if (extra.length) {
      modules.installBridges(jail, (b) => self.loadBundle(String(b)), nodeBridges.pacedBridges(hostWork, () => self.current));
      modules.runBundleSync(isolate, context, 'node', 2000);
      this.loaded.add('node');
    }
    const internals = jail.getSync('__sbInternals', { reference: true });
    this.invokeRef = internals.getSync('invoke', { reference: true });
    this.invokeBatchRef = internals.getSync('invokeBatch', { reference: true });
    this.outbox = new Outbox(internals.getSync('settle', { reference: true }));
    const setResolverRef = internals.getSync('setResolver', { reference: true });
    internals.release();
    jail.deleteSync('__sbInternals');
    this.isolate = isolate;
    this.context = context;
    this.lastCpu = 0n;
    this.baseline = MemoryGuard.readSync(isolate); // the platform's share, not the function's
    return setResolverRef;
  }

  // Builds everything and evaluates the user's code. No isolated-vm `timeout` on user code or
  // any apply: the watchdog enforces every deadline by disposing the isolate (an expiring
  // `timeout` on every apply is what made the host abort with "Script failed to terminate"
  // or segfault under timer floods).
  async build(call) {
    const setResolverRef = this.buildBase();
    for (const name of this.pendingLibs) {
      await untilKilled(call, modules.runBundle(this.isolate, this.context, name, call.deadline - Date.now()));
      this.loaded.add(name);
    }
    this.baseline = MemoryGuard.readSync(this.isolate); // the platform's share, not the function's
    const script = this.isolate.compileScriptSync(this.code, { filename: 'function.js' });
    await untilKilled(call, script.run(this.context));
    script.release();
    const resolver = this.isolate.compileScriptSync(RESOLVER_SRC).runSync(this.context, { reference: true });
    setResolverRef.applySync(undefined, [resolver.derefInto()]);
    resolver.release();
    setResolverRef.release();
    this.bytes = MemoryGuard.readSync(this.isolate);
  }

  // A crypto bridge entered through applySyncPromise (lib/hostwork.js): it runs after the
  // host's event loop had a turn, sliced, paced and budgeted as host work of the call in
  // progress. A synchronous callback loop otherwise keeps the host's thread in isolated-vm's
  // task queue, which it drains before returning to the event loop: neighbours starved.
  fairBridge(fn) {
    return new ivm.Reference((...args) => {
      const call = this.current;
      if (!call) return Promise.reject(new Error('no invocation in progress'));
      return fn(call, ...args);
    });
  }

  // A bundle evaluated on first use (an AWS service client, google.cloud.storage): '' when
  // loaded, else the reason. Runs inside the call that asked for it, on the same isolate.
  loadBundle(name) {
    if (this.loaded.has(name)) return '';
    if (!modules.LAZY.test(name)) return 'not a bundle loaded on first use';
    if (++this.lazyLoads > modules.MAX_LAZY_LOADS) return `at most ${modules.MAX_LAZY_LOADS} library parts per function`;
    try {
      const before = MemoryGuard.readSync(this.isolate);
      modules.runBundleSync(this.isolate, this.context, name, 2000);
      this.baseline += Math.max(0, MemoryGuard.readSync(this.isolate) - before);
    } catch (e) {
      return String((e && e.message) || e);
    }
    this.loaded.add(name);
    return '';
  }

  dispose() {
    const iso = this.isolate;
    this.isolate = null;
    this.context = null;
    this.bytes = 0;
    if (this.outbox) this.outbox.close();
    if (iso && !iso.isDisposed) {
      try { iso.dispose(); } catch (e) { /* already gone */ }
    }
  }

  // ---- host bridges bound to the call in progress ----------------------------
  // Results of fetches (and fired timers) go into the isolate through the outbox: one
  // delivery at a time, fired timers coalesced, so a flood cannot queue up work.
  settle(kind, id, ok, data) {
    if (!this.current || !this.isolate) return;
    this.outbox.post(kind, id, ok, data);
  }

  // Per-call state (timers, fetch trace and count, deadline): the call itself, or for
  // run_batch the state of the batch event `ev` that started the operation.
  stateOf(call, ev, evDeadline) {
    if (!call.events || !(ev >= 0) || ev >= call.count) return call;
    let st = call.events[ev];
    if (!st) {
      const dl = Number(evDeadline) > 0 ? Math.min(Number(evDeadline), call.deadline) : call.deadline;
      st = call.events[ev] = newOpState(dl);
    }
    return st;
  }

  // The shim enforces the timer limits (and throws to the caller); the host enforces them
  // again, silently, in case the shim was bypassed.
  startTimer(id, ms, repeat, ev, evDeadline) {
    const call = this.current;
    if (!call) return;
    const st = this.stateOf(call, ev, evDeadline);
    ms = Math.max(repeat ? CONFIG.minIntervalMs : 1, Math.floor(Number(ms)) || 0);
    if (st.timers.size >= CONFIG.maxTimers || ++call.timerStarts > CONFIG.maxTimerStarts) return;
    if (Date.now() + ms > st.deadline) return; // would fire after the deadline: never fires
    const fire = () => {
      if (this.current !== call) return;
      if (!repeat) st.timers.delete(id);
      if (this.isolate) this.outbox.timer(id);
    };
    st.timers.set(id, repeat ? setInterval(fire, ms) : setTimeout(fire, ms));
  }

  clearTimer(id, ev) {
    const call = this.current;
    if (!call) return;
    const st = this.stateOf(call, ev, 0);
    const h = st.timers.get(id);
    if (h !== undefined) { clearTimeout(h); clearInterval(h); st.timers.delete(id); }
  }

  // run_batch: event `ev` finished with timers or fetches still pending: cancel them.
  endEvent(ev) {
    const call = this.current;
    if (!call || !call.events) return;
    const st = call.events[ev];
    if (st) cancelOps(st);
  }

  // run_batch: event `ev` finished; its result JSON (with its own logs) is kept here so
  // that it survives the isolate being killed later in the batch.
  eventDone(ev, json) {
    const call = this.current;
    if (!call || !call.events || !(ev >= 0) || ev >= call.count || typeof json !== 'string') return;
    const now = process.hrtime.bigint();
    call.results[ev] = outputChecked(json);
    call.doneAt[ev] = now;
    call.doneCount = ev + 1;
    // The next event starts now: it gets its own timeout_ms (within the batch deadline).
    call.evDeadline = Math.min(call.deadline, Date.now() + call.timeoutMs);
  }

  startFetch(opId, specJson, ev, evDeadline) {
    const call0 = this.current;
    if (!call0) return;
    const call = this.stateOf(call0, ev, evDeadline);
    let spec;
    try { spec = JSON.parse(specJson); } catch (e) { return; }
    const method = String(spec.method || 'GET').toUpperCase();
    const started = Date.now();
    const trace = { method: method.slice(0, 32), url: traceUrl(spec.url), status: null, duration_ms: 0 };
    if (call.requests.length < 1000) call.requests.push(trace);
    const reject = (message, type, code) => {
      if (!trace.error) { trace.error = message; trace.duration_ms = Date.now() - started; } // cancelled: already marked
      this.settle('fetch', opId, false, JSON.stringify({ message, type, code }));
    };
    if (++call.fetchCount > CONFIG.fetchMaxCalls) {
      reject(`fetch limit reached: at most ${CONFIG.fetchMaxCalls} requests per invocation`, 'system', 'EFETCHLIMIT');
      return;
    }
    if (this.answerLocally(call0, call, opId, spec, trace, reject)) return;
    // Aborted by cancelOps when the call (or batch event) ends: every stage of the fetch stops.
    if (!call.abort) call.abort = new AbortController();
    call.abort.signal.addEventListener('abort', () => {
      if (trace.status === null && !trace.error) { trace.error = 'cancelled: the invocation ended'; trace.duration_ms = Date.now() - started; }
    }, { once: true });
    egress().fetch(spec, {
      poolKey: this.key || `call:${this.id}`,
      signal: call.abort.signal,
      deadline: call.deadline,
      defaultTimeoutMs: CONFIG.fetchTimeoutMs,
      maxBytes: CONFIG.fetchMaxBytes,
    }).then((r) => {
      trace.status = r.status;
      trace.duration_ms = Date.now() - started;
      if (this.current === call0) this.settle('fetch', opId, true, JSON.stringify(r));
    }, (e) => {
      if (this.current === call0) reject(e.message, e.type, e.code);
      else { trace.error = e.message; trace.duration_ms = Date.now() - started; }
    });
  }

  // A fetch an answer rule takes: captured and answered here, never sent. True when taken.
  answerLocally(call0, call, opId, spec, trace, reject) {
    const rule = fetchAnswers.match(spec.url, call0.answers);
    if (!rule) return false;
    let req;
    try { req = egressModule().prepareRequest(spec); } catch (e) { reject(e.message, e.type, e.code); return true; }
    call.captured.push(answers.capture(rule, req));
    trace.status = rule.status;
    trace.answered = rule.tag;
    const r = answers.response(rule, req.url);
    // Settled on a later turn, as a network answer would be.
    setImmediate(() => { if (this.current === call0) this.settle('fetch', opId, true, JSON.stringify(r)); });
    return true;
  }
}

// The request trace keeps at most TRACE_URL_MAX characters of a URL (a call may make up to
// fetch_max_calls requests, each URL as long as the function likes).
const TRACE_URL_MAX = 2048;
function traceUrl(url) {
  const u = String(egressModule().redactUrl(url));
  return u.length > TRACE_URL_MAX ? `${u.slice(0, TRACE_URL_MAX)}…` : u;
}

// The shim caps a call's result JSON at maxOutputBytes (lib/shim/invoke.js, charge); this checks it
// again on the host, by length (UTF-16 units never exceed UTF-8 bytes), in case it did not.
const OUTPUT_SLACK = 65536;
function outputChecked(json) {
  if (json.length <= CONFIG.maxOutputBytes + OUTPUT_SLACK) return json;
  return JSON.stringify(errorResult('PayloadTooLarge', `Function output too large: more than ${CONFIG.maxOutputBytes} bytes of JSON`));
}

function newOpState(deadline) {
  return { deadline, timers: new Map(), abort: null, requests: [], captured: [], fetchCount: 0, timerStarts: 0 };
}

function cancelOps(st) {
  for (const h of st.timers.values()) { clearTimeout(h); clearInterval(h); }
  st.timers.clear();
  if (st.abort) st.abort.abort();
}

// ---- payload checks (also done in Python) ------------------------------------------
function jsonDepth(s) {
  let depth = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++; // backslash
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 123 || c === 91) { if (++depth > max) max = depth; }
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

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

const memory = new MemoryGuard(CONFIG, { warm, running, stuck, kill, crash: crashHost });

function evict(entry) {
  if (warm.get(entry.key) === entry) warm.delete(entry.key);
  entry.evicted = true;
  entry.enqueue(() => entry.dispose());
}

// ---- run ------------------------------------------------------------------------------
function lookupEntry(msg) {
  const hash = msg.code_hash || crypto.createHash('sha256').update(msg.code).digest('hex');
  if (!msg.instance_key) return new Entry(null, msg.code, msg.kind, null, hash);
  const key = `${msg.instance_key}\u0000${hash}\u0000${msg.kind}`;
  let entry = warm.get(key);
  if (entry) {
    warm.delete(key);
    warm.set(key, entry);
    return entry;
  }
  entry = new Entry(key, msg.code, msg.kind, msg.instance_key, hash);
  warm.set(key, entry);
  while (warm.size > CONFIG.maxWarm) evict(warm.values().next().value);
  return entry;
}

// ---- one call's life on an entry (shared by run and run_batch) ---------------------------
function callBegin(entry, call) {
  call.startedAt = Date.now();
  call.rssStart = memory.lastRss;
  inflight.add(call.id);
  entry.current = call;
  entry.lastCall = call;
  call.entry = entry;
  running.add(call);
}

function callEnd(entry, call) {
  running.delete(call);
  cancelOps(call);
  if (entry.outbox) entry.outbox.clear();
  entry.current = null;
  inflight.delete(call.id);
  if (!entry.key || entry.evicted) entry.dispose();
  else memory.trimWarm(evict);
}

// Builds a disposed or new isolate; the build error result when that fails (else null).
async function ensureBuilt(entry, call) {
  if (entry.isolate && !entry.isolate.isDisposed) return null;
  entry.dispose();
  try {
    await entry.build(call);
    return null;
  } catch (e) {
    const failure = classify(e, call, entry);
    // Host-side frames are noise for the user: keep only the error line.
    if (failure.error.stack) failure.error.stack = `${failure.error.type}: ${failure.error.message}`;
    entry.dispose();
    return failure;
  }
}

// The error result of a failed apply. A timed-out isolate is always disposed, so module
// state after a Timeout reliably starts over; so is one killed by its memory limit.
function applyFailure(e, call, entry) {
  const failure = classify(e, call, entry);
  if (call.timedOut || failure.error.type === 'Timeout' || /memory limit/i.test(String(e && e.message))) entry.dispose();
  return failure;
}

// CPU time the isolate spent since the entry's last reading (it only runs for the current call).
function cpuSince(entry, iso) {
  if (entry.lastCpu === undefined) entry.lastCpu = 0n;
  try {
    if (!iso.isDisposed) { const now = iso.cpuTime; const spent = now - entry.lastCpu; entry.lastCpu = now; return spent; }
  } catch (e) { /* disposed */ }
  return 0n;
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

// A call stopped at its deadline while filling memory (nearLimitResult) is a circuit-breaker
// strike, as the host crash it was heading for would have been (sandbox.py reads the field).
function strikeField(call) {
  return call.nearLimitMb ? ',"strike":true' : '';
}

function preflight(msg) {
  if (typeof msg.code !== 'string') return 'code must be a string';
  if (!['source', 'destination', 'insert_destination', 'insert_source'].includes(msg.kind)) return `unknown kind ${msg.kind}`;
  if (typeof msg.payload !== 'string' || typeof msg.settings !== 'string') return 'payload and settings must be JSON strings';
  return null;
}

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

// ---- check ----------------------------------------------------------------------------
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

// ---- NDJSON transport ------------------------------------------------------------------
let outBuf = [];
let flushScheduled = false;
let inFlight = 0;
function send(line) {
  outBuf.push(line);
  // With nothing else in flight there is nothing to coalesce with: answer at once (the
  // single-call latency), otherwise gather this turn's replies into one write.
  if (inFlight === 0) {
    flush();
    return;
  }
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}
function flush() {
  flushScheduled = false;
  if (!outBuf.length) return;
  const data = outBuf.join('\n') + '\n';
  outBuf = [];
  process.stdout.write(data);
}

function handleLine(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    send(JSON.stringify({ id: null, error: `invalid JSON: ${e.message}` }));
    return;
  }
  let p;
  switch (msg.op) {
    case 'run': p = handleRun(msg); break;
    case 'run_batch': p = handleRunBatch(msg); break;
    case 'check': p = handleCheck(msg); break;
    case 'ping': p = Promise.resolve(JSON.stringify({ id: msg.id, pong: true, warm: warm.size })); break;
    default: p = Promise.resolve(JSON.stringify({ id: msg.id, error: `unknown op ${msg.op}` }));
  }
  inFlight++;
  p.then(
    (line) => { inFlight--; send(line); },
    (e) => { inFlight--; send(JSON.stringify({ id: msg.id, result: errorResult('InternalError', String(e && e.message)), requests: [], duration_ms: 0, cpu_ms: 0 })); },
  );
}

let pending = [];
process.stdin.setEncoding('utf8'); // StringDecoder: multi-byte characters are never split
process.stdin.on('data', (s) => {
  let start = 0;
  let nl;
  while ((nl = s.indexOf('\n', start)) >= 0) {
    pending.push(s.slice(start, nl));
    const line = pending.join('');
    pending = [];
    if (line) handleLine(line);
    start = nl + 1;
  }
  if (start < s.length) pending.push(s.slice(start));
});
process.stdin.on('end', () => { flush(); process.exit(0); });
process.on('uncaughtException', (e) => {
  process.stderr.write(`sandbox host uncaught exception: ${e && e.stack}\n`);
});

process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, node: process.version }) + '\n');

