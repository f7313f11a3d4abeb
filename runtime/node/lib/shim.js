// In-isolate runtime shim. Evaluated once per isolate, before any library bundle
// and before the user's code. It runs in strict mode inside a closure: the host
// bridges (ivm Callbacks, set as __sb_* globals by host.js) are captured here and
// deleted from the global object, so user code can never reach them.
(function (g) {
  'use strict';

  // ---- capture host bridges, then remove them from the global --------------
  // Errors thrown by a host bridge are rebuilt here from their message alone, so they carry
  // no host stack frames or file paths.
  const ReflectApply = Reflect.apply;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const ErrorCtor = Error;
  function hostCall(fn) {
    return function () {
      try {
        return ReflectApply(fn, undefined, arguments);
      } catch (e) {
        let name = 'Error';
        let message = 'host bridge failed';
        try { name = String(e.name); message = String(e.message); } catch (_) { /* keep the defaults */ }
        const C = name === 'TypeError' ? TypeErrorCtor : name === 'RangeError' ? RangeErrorCtor : ErrorCtor;
        throw new C(message);
      }
    };
  }
  // The crypto bridges run on the host after its event loop had a turn (fair to neighbours);
  // where the isolate is entered synchronously (a bundle's top level) the direct ones serve.
  // The first DIRECT_OPS small operations of each invocation (a whole batch is one) also take
  // the direct bridge: a turn costs ~0.5 ms, a direct call ~0.05 ms, and an SDK signing a request
  // (AWS SigV4: about six HMACs) paid the turns at every call. A direct call holds the host's
  // thread for microseconds (DIRECT_MAX_CHARS of input), so these few cannot starve it; the
  // host counts both kinds in the call's host-work budget.
  const DIRECT_OPS = 32;
  const DIRECT_MAX_CHARS = 4096;
  let directLeft = 0;
  const argList = Function.prototype.call.bind(Array.prototype.slice);
  function fairCall(ref, direct, size) {
    const copy = { arguments: { copy: true } };
    return hostCall(function () {
      if (directLeft > 0 && size(arguments) <= DIRECT_MAX_CHARS) {
        directLeft--;
        return ReflectApply(direct, undefined, arguments);
      }
      try {
        return ref.applySyncPromise(undefined, argList(arguments), copy);
      } catch (e) {
        if (!/synchronous|default thread|applySyncPromise/i.test(String(e && e.message))) throw e;
        return ReflectApply(direct, undefined, arguments);
      }
    });
  }
  // Input size of a hash bridge call, in characters: its key and parts are [string, encoding].
  function hashChars(args) {
    let n = 0;
    const key = args[1];
    const parts = args[2];
    if (key) n += key[0].length;
    for (let i = 0; i < parts.length; i++) n += parts[i][0].length;
    return n;
  }
  const H = {
    hash: fairCall(g.__sb_hash_turn, g.__sb_hash, hashChars), // (alg, key|null, parts[[str,enc]], outEnc) -> string
    random: fairCall(g.__sb_random_turn, g.__sb_random, (args) => Number(args[0])), // (n) -> base64
    uuid: fairCall(g.__sb_uuid_turn, g.__sb_uuid, () => 0), // () -> string
    fetch: g.__sb_fetch, // (opId, reqJson, ev, evDeadline) ignored-mode; settles later
    timer: g.__sb_timer, // (id, ms, repeat, ev, evDeadline) ignored-mode
    clear: g.__sb_clear, // (id, ev) ignored-mode
    evEnd: g.__sb_evend, // (ev) ignored-mode: cancel the host timers/fetches of a batch event
    evDone: g.__sb_evdone, // (ev, resultJson) ignored-mode: one batch event finished
  };
  // Batch event in progress (run_batch): its index and deadline tag the host operations it
  // starts, so the host keeps fetch traces, fetch counts and timers per event. -1 = single call.
  let curEv = -1;
  let curDeadline = 0;
  const L = JSON.parse(g.__sb_limits); // the limits enforced here (host.js SHIM_LIMITS)
  for (const k of Object.getOwnPropertyNames(g)) {
    if (k.startsWith('__sb_')) delete g[k];
  }
  delete g.WebAssembly;
  delete g.SharedArrayBuffer;
  delete g.Atomics;
  // Resizable ArrayBuffers grow outside isolated-vm's memory accounting (V8 reserves
  // maxByteLength and commits pages on resize() without asking the allocator), and V8 has no
  // flag to turn them off: the constructor refuses `maxByteLength`. Both references to the
  // original constructor (the global and the prototype's `constructor`) are replaced.
  {
    const OrigArrayBuffer = ArrayBuffer;
    const construct = Reflect.construct;
    const AB = function ArrayBuffer(length, options) {
      if (new.target === undefined) throw new TypeError("Constructor ArrayBuffer requires 'new'");
      if (options !== null && typeof options === 'object' && options.maxByteLength !== undefined) {
        throw new RangeError('resizable ArrayBuffers (maxByteLength) are not available in functions');
      }
      return construct(OrigArrayBuffer, [length], new.target);
    };
    Object.defineProperty(AB, 'prototype', { value: OrigArrayBuffer.prototype });
    Object.defineProperty(AB, 'isView', { value: OrigArrayBuffer.isView, writable: true, configurable: true });
    Object.defineProperty(OrigArrayBuffer.prototype, 'constructor', { value: AB, writable: true, configurable: true });
    Object.defineProperty(g, 'ArrayBuffer', { value: AB, writable: true, configurable: true, enumerable: false });
  }

  // Intl objects keep their ICU data (about 10 KB each) outside the V8 heap, where neither
  // memoryLimit nor the heap reading after a call sees it: a function could keep gigabytes of
  // them in module scope. Live objects are counted (a FinalizationRegistry forgets collected
  // ones) and capped per isolate: at L.maxIntlObjects the constructor throws RangeError.
  {
    const construct = Reflect.construct;
    const I = g.Intl;
    let live = 0;
    let provoked = false;
    const registry = new FinalizationRegistry(() => { if (--live < L.maxIntlObjects / 2) provoked = false; });
    const register = Function.prototype.call.bind(FinalizationRegistry.prototype.register);
    const track = (o) => {
      live++;
      register(registry, o, 0);
      return o;
    };
    // Dropped objects are only forgotten after a GC, which a function that allocates little
    // may not have for a long time: at half the limit, short-lived garbage is allocated once
    // to bring a GC about (their finalizers run after it); the limit itself is refused.
    const check = () => {
      if (live < L.maxIntlObjects / 2) return;
      if (!provoked) {
        provoked = true;
        let junk = null;
        for (let i = 0; i < 4096; i++) junk = new Array(1024).fill(i);
        junk = null;
      }
      if (live >= L.maxIntlObjects) throw new RangeError(`Intl object limit reached: at most ${L.maxIntlObjects} live Intl objects per function`);
    };
    for (const name of ['Collator', 'DateTimeFormat', 'DisplayNames', 'DurationFormat', 'ListFormat', 'Locale', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'Segmenter', 'v8BreakIterator']) {
      const Orig = I[name];
      if (typeof Orig !== 'function') continue;
      const Wrapped = function (...args) {
        check();
        return track(construct(Orig, args, new.target === undefined || new.target === Wrapped ? Orig : new.target));
      };
      Object.defineProperty(Wrapped, 'name', { value: name });
      Object.defineProperty(Wrapped, 'length', { value: Orig.length });
      Object.defineProperty(Wrapped, 'prototype', { value: Orig.prototype });
      if (typeof Orig.supportedLocalesOf === 'function') Object.defineProperty(Wrapped, 'supportedLocalesOf', { value: Orig.supportedLocalesOf, writable: true, configurable: true });
      Object.defineProperty(Orig.prototype, 'constructor', { value: Wrapped, writable: true, configurable: true });
      Object.defineProperty(I, name, { value: Wrapped, writable: true, configurable: true, enumerable: false });
    }
    // Segmenter#segment() holds an ICU break iterator of its own.
    const Seg = I.Segmenter;
    if (Seg && typeof Seg.prototype.segment === 'function') {
      const segment = Function.prototype.call.bind(Seg.prototype.segment);
      Object.defineProperty(Seg.prototype, 'segment', { value: function segmentCounted(str) { check(); return track(segment(this, str)); }, writable: true, configurable: true });
    }
  }

  // Intrinsics captured before user code can replace them.
  const JSONparse = JSON.parse;
  const JSONstringify = JSON.stringify;
  const OrigDate = Date;
  const dateNow = Date.now;
  const dateParse = Date.parse;
  const isArray = Array.isArray;
  const ObjectKeys = Object.keys;
  const ObjectPrototypeToString = Object.prototype.toString;
  const StringFromCharCode = String.fromCharCode;
  const PromiseCtor = Promise;
  const PromiseRace = Promise.race.bind(Promise);
  const MapCtor = Map;
  const uncurry = Function.prototype.bind.bind(Function.prototype.call);
  const charCodeAt = uncurry(String.prototype.charCodeAt);
  const stringSlice = uncurry(String.prototype.slice);
  const regexpExec = uncurry(RegExp.prototype.exec);
  const NON_ASCII = /[^\x00-\x7f]/;

  const MAX_LOG_LINES = L.maxLogLines;
  const MAX_LOG_LINE = L.maxLogLineBytes;
  const CACHE_MAX = 1000;
  // Error text kept in a result (a thrown error's name, message and stack), in UTF-8 bytes.
  const ERROR_TYPE_MAX = 256;
  const ERROR_MESSAGE_MAX = 8192;
  const ERROR_STACK_MAX = 16384;
  // Once a run_batch has used up its output budget, each later event keeps only this much.
  const SPENT_MESSAGE_MAX = 256;

  // ---- UTF-8 sizes (the output caps count bytes, not UTF-16 units) -----------------
  // Intrinsics captured above: user code replacing String.prototype methods cannot change
  // what is counted. `limit`: stop counting once past it (the result is then > limit).
  function utf8Bytes(s, limit) {
    let n = s.length;
    if (n > limit || regexpExec(NON_ASCII, s) === null) return n;
    for (let i = 0; i < s.length && n <= limit; i++) {
      const c = charCodeAt(s, i);
      if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2; // a surrogate pair: 2 + 2
    }
    return n;
  }
  // s cut to at most `max` UTF-8 bytes at a character boundary, marked when cut.
  function cutUtf8(s, max, mark) {
    if (s.length * 3 <= max) return s;
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = charCodeAt(s, i);
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (charCodeAt(s, i + 1) & 0xfc00) === 0xdc00;
      const b = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
      if (n + b > max) return stringSlice(s, 0, i) + mark;
      n += b;
      if (pair) i++;
    }
    return s;
  }

  function define(name, value) {
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // ---- error classes -------------------------------------------------------
  class ValidationError extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  class InvalidEventPayload extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  class EventNotSupported extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  // RetryError(message, {retryAfter}) (or a number): seconds, or an HTTP-date as a 429's
  // Retry-After header gives it; the pipeline waits at least that long (docs/functions.md).
  class RetryError extends Error {
    constructor(message, options) {
      super(message);
      this.name = this.constructor.name;
      const after = typeof options === 'number' ? options : (options !== null && typeof options === 'object' && !(options instanceof Error) ? options.retryAfter : undefined);
      if (after !== undefined && after !== null) this.retryAfter = after;
    }
  }
  class DropEvent extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  class FetchError extends Error {
    constructor(message, type, systemError) {
      super(message);
      this.name = 'FetchError';
      this.type = type;
      if (systemError && systemError.code) { this.code = this.errno = systemError.code; }
    }
  }
  for (const C of [ValidationError, InvalidEventPayload, EventNotSupported, RetryError, DropEvent, FetchError]) {
    define(C.name, C);
  }

  // ---- bytes / base64 helpers ----------------------------------------------
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const B64LOOKUP = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) B64LOOKUP[B64.charCodeAt(i)] = i;
  B64LOOKUP['-'.charCodeAt(0)] = 62; // base64url, accepted like Node's decoder
  B64LOOKUP['_'.charCodeAt(0)] = 63;

  function bytesToBase64(bytes) {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (i < bytes.length) {
      const rest = bytes.length - i;
      const n = (bytes[i] << 16) | (rest > 1 ? bytes[i + 1] << 8 : 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + (rest > 1 ? B64[(n >> 6) & 63] : '=') + '=';
    }
    return out;
  }
  // Lenient decoder (like Node's Buffer.from(s, 'base64')): skips invalid characters.
  function base64ToBinaryString(s) {
    s = String(s);
    let out = '';
    let buf = 0;
    let bits = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 61) break; // '='
      const v = c < 256 ? B64LOOKUP[c] : -1;
      if (v < 0) continue;
      buf = (buf << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += StringFromCharCode((buf >> bits) & 0xff);
      }
    }
    return out;
  }
  function binaryStringToBase64(s) {
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i) & 0xff;
    return bytesToBase64(bytes);
  }
  function isBytes(x) {
    return x instanceof Uint8Array || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
  }
  function toUint8(x) {
    if (x instanceof Uint8Array) return x;
    if (x instanceof ArrayBuffer) return new Uint8Array(x);
    return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  }
  function getBuffer() {
    const B = g.Buffer;
    if (typeof B !== 'function') throw new Error('Buffer is not available');
    return B;
  }

  // npm btoa 1.2.1 / atob 2.1.2 semantics (lenient: no throw on chars > 0xFF).
  define('btoa', function btoa(str) { return binaryStringToBase64(String(str)); });
  define('atob', function atob(str) { return base64ToBinaryString(str); });

  // ---- console ---------------------------------------------------------------
  let logs = [];
  let logsDropped = 0;
  function inspect(v, depth, seen) {
    if (v === null) return 'null';
    const t = typeof v;
    if (t === 'string') return depth === 0 ? v : JSONstringify(v);
    if (t === 'number' || t === 'boolean' || t === 'undefined' || t === 'bigint') return String(v) + (t === 'bigint' ? 'n' : '');
    if (t === 'symbol') return v.toString();
    if (t === 'function') return `[Function: ${v.name || '(anonymous)'}]`;
    if (v instanceof Error) return v.stack || `${v.name}: ${v.message}`;
    if (seen.indexOf(v) >= 0) return '[Circular]';
    if (depth > 4) return isArray(v) ? '[Array]' : '[Object]';
    seen.push(v);
    try {
      if (isArray(v)) {
        const parts = [];
        for (let i = 0; i < v.length && i < 100; i++) parts.push(inspect(v[i], depth + 1, seen));
        if (v.length > 100) parts.push(`... ${v.length - 100} more items`);
        return `[ ${parts.join(', ')} ]`;
      }
      if (v instanceof OrigDate) return isNaN(v) ? 'Invalid Date' : v.toISOString();
      if (v instanceof Headers) return `Headers ${inspect(Object.fromEntries(v.entries()), depth + 1, seen)}`;
      const keys = ObjectKeys(v);
      const parts = [];
      for (let i = 0; i < keys.length && i < 100; i++) {
        const k = keys[i];
        const kk = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSONstringify(k);
        parts.push(`${kk}: ${inspect(v[k], depth + 1, seen)}`);
      }
      const ctor = v.constructor && v.constructor !== Object && typeof v.constructor.name === 'string' ? v.constructor.name + ' ' : '';
      return parts.length ? `${ctor}{ ${parts.join(', ')} }` : `${ctor}{}`;
    } finally {
      seen.pop();
    }
  }
  function format(args) {
    let first = args[0];
    let i = 1;
    let out;
    if (typeof first === 'string' && first.indexOf('%') >= 0 && args.length > 1) {
      out = first.replace(/%([sdifjoOc%])/g, (m, f) => {
        if (f === '%') return '%';
        if (i >= args.length) return m;
        const a = args[i++];
        switch (f) {
          case 's': return typeof a === 'string' ? a : inspect(a, 1, []);
          case 'd': case 'i': return String(f === 'i' ? parseInt(a, 10) : Number(a));
          case 'f': return String(parseFloat(a));
          case 'j': try { return JSONstringify(a); } catch (e) { return '[Circular]'; }
          case 'c': return '';
          default: return inspect(a, 1, []);
        }
      });
    } else {
      out = inspect(first, 0, []);
    }
    for (; i < args.length; i++) out += ' ' + inspect(args[i], 0, []);
    return out;
  }
  function pushLog(level, args) {
    if (logs.length >= MAX_LOG_LINES) { logsDropped++; return; }
    let message;
    try { message = format(args); } catch (e) { message = '[unprintable]'; }
    message = cutUtf8(String(message), MAX_LOG_LINE, '… [truncated]');
    logs[logs.length] = { level, message, time: new OrigDate(dateNow()).toISOString() }; // not push(): user code may replace it
  }
  function takeLogs() {
    const out = logs;
    if (logsDropped) out[out.length] = { level: 'warn', message: `[${logsDropped} log lines dropped: limit is ${MAX_LOG_LINES} per call]`, time: new OrigDate(dateNow()).toISOString() };
    logs = [];
    logsDropped = 0;
    return out;
  }
  const consoleObj = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    consoleObj[level] = function (...args) { pushLog(level, args); };
  }
  consoleObj.trace = function (...args) { pushLog('debug', args); };
  consoleObj.dir = function (v) { pushLog('log', [v]); };
  consoleObj.table = function (v) { pushLog('log', [v]); };
  consoleObj.time = consoleObj.timeEnd = consoleObj.timeLog = consoleObj.group = consoleObj.groupEnd = consoleObj.assert = consoleObj.count = function () {};
  define('console', consoleObj);

  // ---- pending host operations (fetch, timers) -------------------------------
  const pendingOps = new MapCtor(); // opId -> {resolve, reject}
  let opSeq = 0;
  const timers = new MapCtor(); // id -> {fn, args, repeat}
  let timerSeq = 0;
  let timerStarts = 0; // timers started by the call in progress (reset per call / batch event)
  let failCurrent = null; // rejects the running call (uncaught error in a timer callback)

  class Timeout {
    constructor(id) { this._id = id; }
    ref() { return this; }
    unref() { return this; }
    hasRef() { return true; }
    refresh() { return this; }
    [Symbol.toPrimitive]() { return this._id; }
  }
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
    ms = Number(ms);
    if (!(ms >= 1) || ms > 2147483647) ms = 1;
    if (repeat && ms < L.minIntervalMs) ms = L.minIntervalMs;
    if (timers.size >= L.maxTimers) throw new RangeError(`timer limit reached: at most ${L.maxTimers} pending timers per invocation`);
    if (++timerStarts > L.maxTimerStarts) throw new RangeError(`timer limit reached: at most ${L.maxTimerStarts} timers per invocation`);
    const id = ++timerSeq;
    timers.set(id, { fn, args, repeat });
    H.timer(id, Math.floor(ms), repeat, curEv, curDeadline);
    return new Timeout(id);
  }
  function clearTimer(t) {
    const id = t instanceof Timeout ? t._id : Number(t);
    if (timers.delete(id)) H.clear(id, curEv);
  }
  define('setTimeout', function setTimeout(fn, ms, ...args) { return addTimer(fn, ms, args, false); });
  define('setInterval', function setInterval(fn, ms, ...args) { return addTimer(fn, ms, args, true); });
  define('setImmediate', function setImmediate(fn, ...args) { return addTimer(fn, 0, args, false); });
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  define('clearImmediate', clearTimer);
  define('queueMicrotask', function queueMicrotask(fn) { PromiseCtor.resolve().then(fn); });

  // Called by the host (through a Reference taken before user code ran).
  function fireTimer(id) {
    const t = timers.get(id);
    if (!t) return;
    if (!t.repeat) timers.delete(id);
    try {
      t.fn.apply(undefined, t.args);
    } catch (e) {
      if (failCurrent) failCurrent(e);
    }
  }
  function settle(kind, id, ok, data) {
    if (kind === 'timers') { // fired timers, coalesced by the host: "id,id,..."
      const ids = data.split(',');
      for (let i = 0; i < ids.length; i++) fireTimer(Number(ids[i]));
      return;
    }
    const op = pendingOps.get(id);
    if (!op) return;
    pendingOps.delete(id);
    if (ok) op.resolve(data);
    else op.reject(data);
  }

  // ---- Headers / Request / Response (node-fetch v2 shapes) --------------------
  function normName(name) {
    name = String(name);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new TypeError(`${name} is not a legal HTTP header name`);
    return name.toLowerCase();
  }
  function normValue(value) {
    value = String(value);
    if (/[\r\n\0]/.test(value)) throw new TypeError(`${JSONstringify(value)} is not a legal HTTP header value`);
    return value.trim();
  }
  class Headers {
    constructor(init) {
      this._m = new MapCtor(); // lower name -> [values]
      if (init == null) return;
      if (init instanceof Headers) {
        for (const [k, vs] of init._m) this._m.set(k, vs.slice());
      } else if (typeof init === 'object' && typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          if (!pair || typeof pair === 'string' || pair.length !== 2) throw new TypeError('Each header pair must be a name/value tuple');
          this.append(pair[0], pair[1]);
        }
      } else if (typeof init === 'object') {
        for (const k of ObjectKeys(init)) {
          const v = init[k];
          if (isArray(v)) for (const x of v) this.append(k, x);
          else this.append(k, v);
        }
      } else {
        throw new TypeError('Provided initializer must be an object');
      }
    }
    append(name, value) {
      const k = normName(name);
      const v = normValue(value);
      const vs = this._m.get(k);
      if (vs) vs.push(v); else this._m.set(k, [v]);
    }
    set(name, value) { this._m.set(normName(name), [normValue(value)]); }
    get(name) {
      const vs = this._m.get(normName(name));
      return vs === undefined ? null : vs.join(', ');
    }
    has(name) { return this._m.has(normName(name)); }
    delete(name) { this._m.delete(normName(name)); }
    raw() { const o = {}; for (const [k, vs] of this._m) o[k] = vs.slice(); return o; }
    forEach(cb, thisArg) { for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this); }
    *entries() {
      const keys = Array.from(this._m.keys()).sort();
      for (const k of keys) yield [k, this._m.get(k).join(', ')];
    }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return 'Headers'; }
    _pairs() { const out = []; for (const [k, vs] of this._m) for (const v of vs) out.push([k, v]); return out; }
  }

  // Serialise a fetch body for the host: {body, enc, type (default content type)}.
  function encodeBody(body) {
    if (body == null) return null;
    if (typeof body === 'string') return { body, enc: 'utf8', type: 'text/plain;charset=UTF-8' };
    if (g.URLSearchParams && body instanceof g.URLSearchParams) {
      return { body: body.toString(), enc: 'utf8', type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    }
    if (isBytes(body)) return { body: bytesToBase64(toUint8(body)), enc: 'base64', type: null };
    if (typeof body.getBuffer === 'function' && typeof body.getBoundary === 'function') {
      return { body: bytesToBase64(toUint8(body.getBuffer())), enc: 'base64', type: `multipart/form-data;boundary=${body.getBoundary()}` };
    }
    return { body: String(body), enc: 'utf8', type: 'text/plain;charset=UTF-8' };
  }

  class Body {
    _initBody(text, b64) {
      this._text = text; // string | null
      this._b64 = b64 || null; // exact bytes when the body is not valid UTF-8
      this._used = false;
    }
    get bodyUsed() { return this._used; }
    get body() { return this._text == null ? null : this._text; }
    _consume() {
      if (this._used) return PromiseCtor.reject(new TypeError(`body used already for: ${this.url || ''}`));
      this._used = true;
      return PromiseCtor.resolve(this._text == null ? '' : this._text);
    }
    text() { return this._consume(); }
    json() {
      return this._consume().then((t) => {
        try { return JSONparse(t); } catch (e) {
          throw new FetchError(`invalid json response body at ${this.url || ''} reason: ${e.message}`, 'invalid-json');
        }
      });
    }
    _bytes() {
      if (this._b64 != null) {
        const s = base64ToBinaryString(this._b64);
        const u = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
        return u;
      }
      return utf8Encode(this._text == null ? '' : this._text);
    }
    arrayBuffer() { return this._consume().then(() => { const u = this._bytes(); return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength); }); }
    buffer() { return this._consume().then(() => getBuffer().from(this._bytes())); }
  }
  function utf8Encode(s) {
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  }

  class Request extends Body {
    constructor(input, init) {
      super();
      init = init || {};
      const isReq = input instanceof Request;
      this.url = isReq ? input.url : String(input && typeof input === 'object' && 'href' in input ? input.href : input);
      let method = init.method || (isReq ? input.method : 'GET');
      this.method = String(method).toUpperCase();
      this.headers = new Headers(init.headers || (isReq ? input.headers : undefined));
      let body = init.body != null ? init.body : (isReq ? input._rawBody : null);
      if (body != null && (this.method === 'GET' || this.method === 'HEAD')) {
        throw new TypeError('Request with GET/HEAD method cannot have body');
      }
      this._rawBody = body;
      this.redirect = init.redirect || (isReq ? input.redirect : 'follow');
      this.timeout = init.timeout || (isReq ? input.timeout : 0);
      this.size = init.size || (isReq ? input.size : 0);
      this.follow = init.follow != null ? init.follow : (isReq ? input.follow : 20);
      this._initBody(typeof body === 'string' ? body : null, null);
    }
    clone() { return new Request(this); }
    get [Symbol.toStringTag]() { return 'Request'; }
  }

  class Response extends Body {
    constructor(body, init) {
      super();
      init = init || {};
      this.status = init.status != null ? init.status : 200;
      this.statusText = init.statusText != null ? String(init.statusText) : '';
      this.headers = new Headers(init.headers);
      this.url = init.url || '';
      this.redirected = !!init.redirected;
      let text = null;
      let b64 = init._b64 || null;
      if (body != null) {
        if (typeof body === 'string') text = body;
        else if (isBytes(body)) { b64 = bytesToBase64(toUint8(body)); text = base64ToBinaryString(b64); }
        else text = String(body);
      }
      this._initBody(text, b64);
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() {
      if (this._used) throw new Error('cannot clone body after it is used');
      return new Response(this._text, { status: this.status, statusText: this.statusText, headers: this.headers, url: this.url, redirected: this.redirected, _b64: this._b64 });
    }
    get [Symbol.toStringTag]() { return 'Response'; }
  }
  define('Headers', Headers);
  define('Request', Request);
  define('Response', Response);

  function fetch(input, init) {
    return new PromiseCtor((resolve, reject) => {
      const req = new Request(input, init);
      const body = encodeBody(req._rawBody);
      const headers = req.headers._pairs();
      if (body && body.type && !req.headers.has('content-type')) headers.push(['content-type', body.type]);
      const spec = {
        url: req.url,
        method: req.method,
        headers,
        body: body ? body.body : null,
        bodyEnc: body ? body.enc : null,
        redirect: req.redirect,
        timeout: Number(req.timeout) || 0,
        size: Number(req.size) || 0,
      };
      hostRequest(spec).then((r) => {
        resolve(new Response(r.text, { status: r.status, statusText: r.statusText, headers: r.headers, url: r.url, redirected: r.redirected, _b64: r.b64 }));
      }, reject);
    });
  }
  define('fetch', fetch);

  // One request through the host (egress checks, limits, request trace): resolves with the
  // host's reply {status, statusText, headers, url, redirected, text, b64}. Also what the
  // Node-compatible layer's http/https client sends (spec.raw: no default headers, no
  // decompression), handed to it through __sbInternals.compat.
  function hostRequest(spec) {
    return new PromiseCtor((resolve, reject) => {
      const id = ++opSeq;
      pendingOps.set(id, {
        resolve(data) {
          let r;
          try { r = JSONparse(data); } catch (e) { reject(new FetchError('invalid host reply', 'system')); return; }
          resolve(r);
        },
        reject(data) {
          let r;
          try { r = JSONparse(data); } catch (e) { r = { message: String(data) }; }
          reject(new FetchError(r.message, r.type || 'system', r.code ? { code: r.code } : null));
        },
      });
      H.fetch(id, JSONstringify(spec), curEv, curDeadline);
    });
  }

  // ---- crypto (Node module API, hashing done on the host) ----------------------
  function encPart(data, enc) {
    if (typeof data === 'string') return [data, enc || 'utf8'];
    if (isBytes(data)) return [bytesToBase64(toUint8(data)), 'base64'];
    throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.');
  }
  function wrapDigest(out, enc) {
    if (enc) return out;
    return getBuffer().from(out, 'base64');
  }
  class Hash {
    constructor(alg, key) {
      this._alg = String(alg);
      this._key = key === undefined ? null : encPart(key);
      this._parts = [];
      this._done = false;
    }
    update(data, enc) {
      if (this._done) throw new Error('Digest already called');
      this._parts.push(encPart(data, enc));
      return this;
    }
    digest(enc) {
      if (this._done) throw new Error('Digest already called');
      this._done = true;
      const out = H.hash(this._alg, this._key, this._parts, enc ? String(enc) : 'base64');
      return wrapDigest(out, enc);
    }
    copy() { const h = new Hash(this._alg); h._key = this._key; h._parts = this._parts.slice(); return h; }
  }
  const cryptoObj = {
    createHash(alg) { return new Hash(alg); },
    createHmac(alg, key) {
      if (key == null) throw new TypeError('The "key" argument must be of type string or an instance of Buffer');
      return new Hash(alg, typeof key === 'object' && !isBytes(key) ? String(key) : key);
    },
    randomUUID() { return H.uuid(); },
    randomBytes(n, cb) {
      const b = getBuffer().from(H.random(Number(n)), 'base64');
      if (typeof cb === 'function') { PromiseCtor.resolve().then(() => cb(null, b)); return undefined; }
      return b;
    },
    randomInt(min, max) {
      if (max === undefined) { max = min; min = 0; }
      const s = base64ToBinaryString(H.random(6));
      let n = 0;
      for (let i = 0; i < 6; i++) n = n * 256 + s.charCodeAt(i);
      return min + Math.floor((n / 2 ** 48) * (max - min));
    },
    getRandomValues(arr) {
      const u = toUint8(arr);
      const s = base64ToBinaryString(H.random(u.byteLength));
      for (let i = 0; i < u.length; i++) u[i] = s.charCodeAt(i);
      return arr;
    },
    timingSafeEqual(a, b) {
      a = toUint8(a); b = toUint8(b);
      if (a.length !== b.length) throw new RangeError('Input buffers must have the same byte length');
      let d = 0;
      for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
      return d === 0;
    },
    getHashes() { return ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']; },
  };
  define('crypto', cryptoObj);

  // ---- uuidv5 (API of the npm package uuidv5 1.0.0: uuidv5(namespace, name[, raw])) --
  const NS = {
    dns: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    url: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
    oid: '6ba7b812-9dad-11d1-80b4-00c04fd430c8',
    x500: '6ba7b814-9dad-11d1-80b4-00c04fd430c8',
    null: '00000000-0000-0000-0000-000000000000',
  };
  function uuidHexToBytes(s) {
    const hex = String(s).replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`Invalid UUID: ${s}`);
    const u = new Uint8Array(16);
    for (let i = 0; i < 16; i++) u[i] = parseInt(hex.substr(i * 2, 2), 16);
    return u;
  }
  function bytesToUuid(u) {
    let h = '';
    for (let i = 0; i < 16; i++) h += (u[i] < 16 ? '0' : '') + u[i].toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function uuidv5(namespace, name, raw) {
    const nsBytes = isBytes(namespace) ? toUint8(namespace) : uuidHexToBytes(Object.prototype.hasOwnProperty.call(NS, namespace) ? NS[namespace] : namespace);
    const hex = H.hash('sha1', null, [[bytesToBase64(nsBytes), 'base64'], encPart(isBytes(name) ? name : String(name))], 'hex');
    const u = new Uint8Array(16);
    for (let i = 0; i < 16; i++) u[i] = parseInt(hex.substr(i * 2, 2), 16);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    return raw ? getBuffer().from(u) : bytesToUuid(u);
  }
  uuidv5.uuidv5 = uuidv5;
  uuidv5.uuidToString = (b) => bytesToUuid(toUint8(b));
  uuidv5.uuidFromString = (s) => getBuffer().from(uuidHexToBytes(s));
  define('uuidv5', uuidv5);

  // ---- cache (in-isolate, TTL, size-capped, shared concurrent loads) -----------
  const cacheMap = new MapCtor(); // key -> {p, exp}
  define('cache', Object.freeze({
    load(key, ttl, fn) {
      if (typeof ttl === 'function' && fn === undefined) { fn = ttl; ttl = -1; }
      if (typeof fn !== 'function') return PromiseCtor.reject(new TypeError('cache.load(key, ttl, fn): fn must be a function'));
      key = String(key);
      const now = dateNow();
      const hit = cacheMap.get(key);
      if (hit && (hit.exp === null || hit.exp > now)) return hit.p;
      if (hit) cacheMap.delete(key);
      const ttlMs = ttl == null || Number(ttl) < 0 || isNaN(Number(ttl)) ? -1 : Number(ttl);
      const entry = { p: null, exp: null };
      entry.p = new PromiseCtor((resolve) => resolve(fn())).then(
        (v) => { if (ttlMs >= 0) entry.exp = dateNow() + ttlMs; return v; },
        (e) => { if (cacheMap.get(key) === entry) cacheMap.delete(key); throw e; },
      );
      cacheMap.set(key, entry);
      while (cacheMap.size > CACHE_MAX) cacheMap.delete(cacheMap.keys().next().value);
      return entry.p;
    },
    delete(key) { cacheMap.delete(String(key)); },
  }));

  // ---- Segment emitter (source functions) ----------------------------------------
  let events = [];
  let objects = [];
  const COMMON = ['userId', 'anonymousId', 'context', 'integrations', 'messageId', 'sentAt', 'timestamp'];
  const SPEC = {
    identify: ['traits'],
    track: ['event', 'properties'],
    page: ['name', 'properties'],
    screen: ['name', 'properties'],
    group: ['groupId', 'traits'],
    alias: ['previousId'],
  };
  const REQUIRED = { track: 'event', group: 'groupId', alias: 'previousId' };
  function emit(type, o) {
    o = o || {};
    const req = REQUIRED[type];
    if (req && !o[req]) throw new ValidationError(`${req} is required but not defined`);
    if (!o.userId && !o.anonymousId) throw new ValidationError('One of userId,anonymousId is required but not defined');
    const m = {};
    for (const k of COMMON) if (o[k]) m[k] = o[k];
    for (const k of SPEC[type]) if (o[k]) m[k] = o[k];
    m.type = type;
    events.push(m);
    return m;
  }
  const SegmentObj = {};
  for (const type of ObjectKeys(SPEC)) SegmentObj[type] = function (o) { return emit(type, o); };
  SegmentObj.set = function (o) {
    o = o || {};
    if (!o.collection) throw new ValidationError('collection is required but not defined');
    if (!o.id) throw new ValidationError('id is required but not defined');
    const m = {};
    for (const k of ['collection', 'id', 'properties']) if (o[k]) m[k] = o[k];
    objects.push(m);
    return m;
  };

  // ---- source request object ---------------------------------------------------------
  function defaultUrl(query) {
    let qs = '';
    if (typeof query === 'string') qs = query.replace(/^\?/, '');
    else if (query && typeof query === 'object') {
      const parts = [];
      for (const k of ObjectKeys(query)) {
        const v = query[k];
        for (const x of isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x == null ? '' : x)}`);
      }
      qs = parts.join('&');
    }
    return `https://fn.segmentapis.com/${qs ? '?' + qs : ''}`;
  }
  function decodeForm(text) {
    const out = {};
    const USP = g.URLSearchParams;
    for (const [k, v] of new USP(text)) {
      if (Object.prototype.hasOwnProperty.call(out, k)) {
        if (isArray(out[k])) out[k].push(v); else out[k] = [out[k], v];
      } else out[k] = v;
    }
    return out;
  }
  class FunctionRequest {
    constructor(p) {
      p = p || {};
      this._body = p.body;
      this.method = p.method ? String(p.method).toUpperCase() : 'POST';
      this.headers = new Headers(p.headers || {});
      const U = g.URL;
      const href = p.url ? String(p.url) : defaultUrl(p.query);
      this.url = typeof U === 'function' ? new U(href) : href;
      this._json = undefined;
      this._text = undefined;
    }
    text() {
      if (this._text === undefined) {
        const b = this._body;
        if (b == null) this._text = '';
        else if (typeof b === 'string') this._text = b;
        else if (typeof b === 'object') this._text = JSONstringify(b);
        else throw new TypeError('unsupported body type');
      }
      return this._text;
    }
    json() {
      if (this._json === undefined) {
        const b = this._body;
        if (b !== null && typeof b === 'object') this._json = b;
        else if (typeof b === 'string' || b == null) {
          const ct = this.headers.get('content-type') || '';
          if (/application\/x-www-form-urlencoded/i.test(ct)) this._json = decodeForm(this.text());
          else this._json = JSONparse(this.text());
        } else throw new TypeError('unsupported body type');
      }
      return this._json;
    }
  }

  // ---- dispatch ------------------------------------------------------------------------
  const TYPE_HANDLERS = {
    identify: 'onIdentify', track: 'onTrack', page: 'onPage', screen: 'onScreen',
    group: 'onGroup', alias: 'onAlias', delete: 'onDelete',
  };
  let resolver = null; // set by the host after the user's code ran; reads global + script-scope bindings
  function getHandler(name) {
    let h;
    if (resolver) h = resolver(name);
    else h = g[name];
    return typeof h === 'function' ? h : undefined;
  }
  async function dispatch(kind, payload, settings) {
    if (kind === 'source') {
      const h = getHandler('onRequest');
      if (!h) throw new EventNotSupported('onRequest is not defined');
      return await h(new FunctionRequest(payload), settings);
    }
    if (isArray(payload)) {
      const h = getHandler('onBatch');
      if (!h) throw new EventNotSupported('onBatch is not defined');
      return await h(payload, settings);
    }
    return await dispatchEvent(payload, settings);
  }
  // One event to its per-type handler (never onBatch).
  async function dispatchEvent(payload, settings) {
    const type = payload && typeof payload === 'object' ? payload.type : undefined;
    const name = typeof type === 'string' && Object.prototype.hasOwnProperty.call(TYPE_HANDLERS, type) ? TYPE_HANDLERS[type] : null;
    if (!name) return undefined; // unknown type: no-op
    const h = getHandler(name);
    if (!h) throw new EventNotSupported(`${type} not supported (${name} is not defined)`);
    return await h(payload, settings);
  }
  // The platform's own error types: an error the function throws with one of these names is
  // reported as `Error` with the name in its message, so only the platform can produce them.
  const RESERVED = Object.create(null);
  for (const n of ['Timeout', 'MemoryLimit', 'Crash', 'SandboxUnavailable', 'PayloadTooLarge', 'PayloadTooDeep', 'InvalidRequest', 'InternalError']) RESERVED[n] = true;
  function serializeError(e) {
    let type = 'Error';
    let message = '';
    let stack = '';
    try {
      if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
        const name = e.name;
        type = typeof name === 'string' && name ? name : '';
        if (!type && e.constructor && typeof e.constructor.name === 'string') type = e.constructor.name;
        message = e.message === undefined ? '' : String(e.message);
        const st = e.stack;
        stack = typeof st === 'string' ? st : '';
      } else message = String(e);
    } catch (err) {
      message = 'unserialisable error';
    }
    type = cutUtf8(String(type || 'Error'), ERROR_TYPE_MAX, '');
    if (RESERVED[type] === true) { message = `${type}: ${message}`; type = 'Error'; }
    const out = {
      type,
      message: cutUtf8(String(message), ERROR_MESSAGE_MAX, '… [truncated]'),
      stack: cutUtf8(String(stack), ERROR_STACK_MAX, '… [truncated]'),
    };
    if (type === 'RetryError') {
      const after = retryAfterSeconds(e);
      if (after !== undefined) out.retryAfter = after;
    }
    return out;
  }
  // A RetryError's retryAfter as seconds from now (a number), or undefined when unusable.
  function retryAfterSeconds(e) {
    let v;
    try { v = e.retryAfter; } catch (err) { return undefined; }
    if (typeof v === 'string' && v.length <= 100) {
      const n = +v; // delta-seconds; otherwise an HTTP-date
      if (v !== '' && n === n) v = n;
      else { const at = dateParse(v); v = at === at ? (at - dateNow()) / 1000 : undefined; }
    }
    if (typeof v !== 'number' || !(v === v) || v === Infinity || v === -Infinity) return undefined;
    return v < 0 ? 0 : v;
  }
  // The result envelope is assembled here, field by field, from platform strings: a
  // function's toJSON, getters or prototype changes can shape its own returned value and
  // events, never `status`, `error` or the logs.
  const q = (s) => JSONstringify(String(s));
  function userJson(v, fallback) {
    const j = JSONstringify(v);
    return typeof j === 'string' ? j : fallback;
  }
  function logLine(level, message) { return { level, message, time: new OrigDate(dateNow()).toISOString() }; }
  function logsJson(list) {
    let s = '[';
    for (let i = 0; i < list.length; i++) {
      const l = list[i];
      s += (i ? ',' : '') + '{"level":' + q(l.level) + ',"message":' + q(l.message) + ',"time":' + q(l.time) + '}';
    }
    return s + ']';
  }
  function finish(out, returned) {
    const logList = takeLogs();
    let body;
    let failure = out.status === 'success' ? null : out.error;
    if (out.status === 'success') {
      let ret = 'null';
      try {
        ret = userJson(returned === undefined ? null : returned, 'null');
      } catch (e) {
        logList[logList.length] = logLine('warn', `[returned value is not JSON-serialisable: ${serializeError(e).message}]`);
      }
      let evs = '[]';
      let objs = '[]';
      try {
        evs = userJson(out.events, '[]');
        objs = userJson(out.objects, '[]');
      } catch (e) {
        failure = { type: 'TypeError', message: `events are not JSON-serialisable: ${serializeError(e).message}`, stack: '' };
        body = '"status":"error","error":{"type":"TypeError","message":' + q(failure.message) + ',"stack":""},"returned":null,"events":[],"objects":[]';
      }
      if (!body) body = '"status":"success","error":null,"returned":' + ret + ',"events":' + evs + ',"objects":' + objs;
    } else {
      const err = out.error;
      const after = typeof err.retryAfter === 'number' ? ',"retryAfter":' + JSONstringify(err.retryAfter) : '';
      body = '"status":"error","error":{"type":' + q(err.type) + ',"message":' + q(err.message) + ',"stack":' + q(err.stack) + after + '},"returned":null,"events":[],"objects":[]';
    }
    return charge('{' + body, logList, failure);
  }

  // ---- output cap: returned value, events, objects, logs and error of a call -----------
  // `invoke` gives each call L.maxOutputBytes of result JSON (UTF-8 bytes); `invokeBatch`
  // gives that to the whole batch, so the host never holds more than the cap of one call's
  // (or one batch's) results. Over it, a successful result becomes PayloadTooLarge (keeping
  // its logs when they fit); an error keeps its type and message (cut once the budget is
  // spent) so that RetryError and the like still mean what they say.
  let outputLeft = 0;
  let outputBatch = false;
  function charge(head, logList, error) {
    const whole = head + ',"logs":' + logsJson(logList) + '}';
    const bytes = utf8Bytes(whole, outputLeft);
    if (bytes <= outputLeft) { outputLeft -= bytes; return whole; }
    let start;
    if (error) {
      const message = cutUtf8(error.message, SPENT_MESSAGE_MAX, '… [truncated]');
      const after = typeof error.retryAfter === 'number' ? ',"retryAfter":' + JSONstringify(error.retryAfter) : '';
      start = '{"status":"error","error":{"type":' + q(error.type) + ',"message":' + q(message) + ',"stack":""' + after + '},"returned":null,"events":[],"objects":[]';
    } else {
      const what = outputBatch
        ? `the batch's results (returned values, events, objects, logs and errors as JSON) passed ${L.maxOutputBytes} bytes at this event`
        : `its returned value, events, objects and logs come to more than ${L.maxOutputBytes} bytes of JSON`;
      start = '{"status":"error","error":{"type":"PayloadTooLarge","message":' + q(`Function output too large: ${what}`) + ',"stack":""},"returned":null,"events":[],"objects":[]';
    }
    let out = start + ',"logs":' + logsJson(logList) + '}';
    let size = utf8Bytes(out, outputLeft);
    if (size > outputLeft) {
      const note = logList.length ? [logLine('warn', `[${logList.length} log lines dropped: the output limit of ${L.maxOutputBytes} bytes was reached]`)] : [];
      out = start + ',"logs":' + logsJson(note) + '}';
      size = utf8Bytes(out, Infinity);
    }
    outputLeft = outputLeft > size ? outputLeft - size : 0;
    return out;
  }
  async function invoke(kind, payloadJson, settingsJson) {
    outputLeft = L.maxOutputBytes;
    outputBatch = false;
    events = [];
    objects = [];
    timerStarts = 0;
    directLeft = DIRECT_OPS;
    const out = { status: 'success', error: null, returned: null, events: [], objects: [], logs: [] };
    let returned;
    try {
      const payload = JSONparse(payloadJson);
      const settings = JSONparse(settingsJson);
      const failed = new PromiseCtor((_, reject) => { failCurrent = reject; });
      failed.catch(() => {});
      returned = await PromiseRace([dispatch(kind, payload, settings), failed]);
      out.events = events;
      out.objects = objects;
    } catch (e) {
      out.status = 'error';
      out.error = serializeError(e);
      returned = undefined;
    }
    failCurrent = null;
    events = [];
    objects = [];
    // The host cancels this call's timers and fetches when it ends; forget them here.
    timers.clear();
    pendingOps.clear();
    return finish(out, returned);
  }
  // run_batch: each event of the array to its per-type handler, one after the other, in
  // this one host crossing. Each event's result (with its own logs) is sent to the host as
  // soon as it is known (evDone), so the host keeps the finished ones if the isolate is
  // killed later in the batch. Events not started by batchDeadline are left to the host
  // (reported as Timeout). Returns the number of events run.
  async function invokeBatch(payloadJson, settingsJson, count, timeoutMs, batchDeadline) {
    const list = JSONparse(payloadJson);
    const settings = JSONparse(settingsJson);
    if (!isArray(list) || list.length !== count) throw new TypeError('run_batch payload must be an array of `count` events');
    takeLogs(); // nothing from between calls leaks into the first event
    outputLeft = L.maxOutputBytes;
    outputBatch = true;
    directLeft = DIRECT_OPS; // per batch, not per event: the host's thread is held between turns
    let i = 0;
    try {
      for (; i < count; i++) {
        const now = dateNow();
        if (now >= batchDeadline) break;
        curEv = i;
        curDeadline = now + timeoutMs < batchDeadline ? now + timeoutMs : batchDeadline;
        timerStarts = 0;
        const out = { status: 'success', error: null, returned: null, events: [], objects: [], logs: [] };
        let returned;
        try {
          const failed = new PromiseCtor((_, reject) => { failCurrent = reject; });
          failed.catch(() => {});
          returned = await PromiseRace([dispatchEvent(list[i], settings), failed]);
        } catch (e) {
          out.status = 'error';
          out.error = serializeError(e);
          returned = undefined;
        }
        failCurrent = null;
        events = [];
        objects = [];
        if (timers.size || pendingOps.size) {
          timers.clear();
          pendingOps.clear();
          H.evEnd(i);
        }
        H.evDone(i, finish(out, returned));
      }
    } finally {
      curEv = -1;
      curDeadline = 0;
      failCurrent = null;
      timers.clear();
      pendingOps.clear();
    }
    return i;
  }
  function setResolver(fn) { resolver = fn; }

  define('Segment', SegmentObj);
  define('window', g);
  define('self', g);

  // Internals picked up by the host (as References) and then deleted before user code runs.
  g.__sbInternals = { invoke, invokeBatch, settle, setResolver, compat: { hostRequest } };
})(globalThis);
