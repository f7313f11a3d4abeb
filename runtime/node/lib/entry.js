'use strict';
// An entry: one function's isolate (the shim, the libraries its code names, then its code)
// and the host bridges bound to the call in progress on it (crypto work, timers, fetches,
// run_batch event results). Calls on an entry run one at a time (enqueue); a warm entry
// (lib/pool.js) keeps its isolate from call to call.
const crypto = require('crypto');
const ivm = require('isolated-vm');
const answers = require('./answers');
const modules = require('./modules');
const { config: CONFIG } = require('./limits');
const { Outbox } = require('./outbox');
const { MemoryGuard } = require('./memory');
const { HostWork } = require('./hostwork');
const nodeBridges = require('./nodebridge');
const { SHIM_SRC, SHIM_LIMITS, LIBS, libSources, RESOLVER_SRC, runLib } = require('./scripts');
const { outputChecked } = require('./results');
const { crashHost, untilKilled } = require('./watchdog');

const env = process.env;
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
  if (!egressLib) egressLib = require('./egress');
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

let entrySeq = 0;

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

function newOpState(deadline) {
  return { deadline, timers: new Map(), abort: null, requests: [], captured: [], fetchCount: 0, timerStarts: 0 };
}

function cancelOps(st) {
  for (const h of st.timers.values()) { clearTimeout(h); clearInterval(h); }
  st.timers.clear();
  if (st.abort) st.abort.abort();
}

module.exports = { Entry, fetchAnswers, newOpState, cancelOps };
