'use strict';
// Host-side fetch for sandboxed functions: the egress policy checked on every resolved address
// and every redirect hop, connections only to checked addresses, a socket pool per function
// instance, cancellation of everything a call started, timeouts, a response size cap and a
// redacted request trace.
const net = require('net');
const http = require('http');
const https = require('https');
const zlib = require('zlib');
const { setMaxListeners } = require('events');
const { isUtf8 } = require('buffer');
const { EgressPolicy } = require('./egress-policy');
const { systemResolver } = require('./egress-dns');

// ---- trace helpers -------------------------------------------------------------------
const SECRET_KEY = /(key|token|secret|passw|pwd|auth|sig|credential|session|code|access|bearer|jwt|api)/i;
function redactUrl(raw) {
  let u;
  try { u = new URL(raw); } catch (e) { return String(raw).slice(0, 2048); }
  u.username = '';
  u.password = '';
  if (u.search) {
    const parts = u.search.slice(1).split('&').map((kv) => {
      const eq = kv.indexOf('=');
      const k = eq >= 0 ? kv.slice(0, eq) : kv;
      let dk = k;
      try { dk = decodeURIComponent(k.replace(/\+/g, ' ')); } catch (e) { /* keep raw */ }
      return eq >= 0 && SECRET_KEY.test(dk) ? `${k}=REDACTED` : kv;
    });
    u.search = '?' + parts.join('&');
  }
  return u.toString().slice(0, 2048);
}

class FetchFailure extends Error {
  constructor(message, type, code) { super(message); this.type = type || 'system'; this.code = code; }
}

const failed = (url, reason, code) => new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: ${reason}`, 'system', code);
const bareHost = (url) => url.hostname.replace(/^\[|\]$/g, '');

// ---- one fetch's life: the call's cancellation and the fetch's own deadline ------------
// Every stage (waiting for a socket slot, DNS, connect, request, response, redirects) listens
// to `signal`, which fires when the call ends or the fetch times out.
class Life {
  constructor(callSignal, deadline) {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.url = null;
    this.callSignal = callSignal;
    this.deadline = deadline;
    this.onCallEnd = () => this.controller.abort('cancelled');
    const remaining = deadline - Date.now();
    if ((callSignal && callSignal.aborted) || remaining <= 0) {
      this.controller.abort(callSignal && callSignal.aborted ? 'cancelled' : 'timeout');
      return;
    }
    this.timer = setTimeout(() => this.controller.abort('timeout'), remaining);
    if (callSignal) {
      setMaxListeners(0, callSignal); // one listener per fetch of the call, not a leak
      callSignal.addEventListener('abort', this.onCallEnd, { once: true });
    }
  }

  error() {
    const where = this.url ? redactUrl(this.url.href) : '';
    if (this.signal.reason === 'timeout') return new FetchFailure(`network timeout at: ${where}`, 'request-timeout');
    return new FetchFailure(`request to ${where} aborted: the invocation ended`, 'aborted', 'ABORT_ERR');
  }

  // Also at the deadline itself: the timers of fetches sharing a deadline fire one by one, and
  // a slot freed by the first must not let another one start.
  check() {
    if (!this.signal.aborted && Date.now() >= this.deadline) this.controller.abort('timeout');
    if (this.signal.aborted) throw this.error();
  }

  // Settles with `promise`, or rejects at once when the fetch is aborted (what the promise
  // later yields is dropped).
  race(promise) {
    if (this.signal.aborted) return Promise.reject(this.error());
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(this.error());
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (v) => { this.signal.removeEventListener('abort', onAbort); resolve(v); },
        (e) => { this.signal.removeEventListener('abort', onAbort); reject(this.signal.aborted ? this.error() : e); },
      );
    });
  }

  end() {
    clearTimeout(this.timer);
    if (this.callSignal) this.callSignal.removeEventListener('abort', this.onCallEnd);
  }
}

// ---- counting semaphore whose waiters leave the queue when their fetch is aborted ---------
class Slots {
  constructor(size) { this.size = Math.max(1, size); this.used = 0; this.waiting = []; }

  acquire(life) {
    if (life.signal.aborted) return Promise.reject(life.error());
    if (this.used < this.size && !this.waiting.length) { this.used++; return Promise.resolve(); }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(life.error());
      };
      const waiter = () => { life.signal.removeEventListener('abort', onAbort); this.used++; resolve(); };
      life.signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release() {
    this.used--;
    const next = this.waiting.shift();
    if (next) next();
  }

  get idle() { return this.used === 0 && !this.waiting.length; }
}

// ---- socket pools: one pair of keep-alive agents per function instance --------------------
// Requests never queue inside an agent (maxSockets is unbounded; the Slots in front bound
// them), because a request destroyed while queued there can still get a connection opened.
const COUNTED = Symbol('counted');

class Pool {
  constructor(egress) {
    this.egress = egress;
    this.slots = new Slots(egress.perInstance);
    this.agents = {};
    this.open = 0;
    this.lastUsed = Date.now();
  }

  agent(protocol) {
    if (!this.agents[protocol]) {
      const Agent = protocol === 'https:' ? https.Agent : http.Agent;
      const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: this.egress.perInstance, timeout: this.egress.keepAliveMs });
      const create = agent.createConnection;
      agent.createConnection = (...args) => this.egress.count(this, create.apply(agent, args));
      // A socket that comes back after others were opened meanwhile closes instead of idling.
      agent.on('free', (socket) => { if (this.egress.overCap(this)) this.egress.closeSocket(this, socket); });
      this.agents[protocol] = agent;
    }
    return this.agents[protocol];
  }

  // Closes up to n idle keep-alive sockets; returns how many it closed.
  closeIdle(n) {
    let closed = 0;
    for (const agent of Object.values(this.agents)) {
      for (const sockets of Object.values(agent.freeSockets)) {
        for (const socket of sockets.slice()) {
          if (closed >= n) return closed;
          if (socket.destroyed) continue; // closing: leaves the list on its 'close'
          this.egress.closeSocket(this, socket);
          closed++;
        }
      }
    }
    return closed;
  }

  destroy() { for (const agent of Object.values(this.agents)) agent.destroy(); }
}

// The `lookup` of a connection: the addresses already resolved and checked, never a new
// resolution (a second answer could differ: DNS rebinding).
function pinnedLookup(addrs) {
  const entries = addrs.map((address) => ({ address, family: net.isIP(address) }));
  return (hostname, options, callback) => {
    if (typeof options === 'function') { callback = options; options = {}; }
    if (options && options.all) callback(null, entries);
    else callback(null, entries[0].address, entries[0].family);
  };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

// The request of a fetch spec: {url, method, headers, body}, or throws a FetchFailure.
function prepareRequest(spec) {
  let url;
  try {
    url = new URL(String(spec.url));
  } catch (e) {
    throw new FetchFailure(`Only absolute URLs are supported: ${String(spec.url).slice(0, 200)}`, 'system', 'EINVAL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchFailure(`Only HTTP(S) protocols are supported: ${url.protocol}`, 'system', 'EPROTO');
  }
  const method = String(spec.method || 'GET').toUpperCase();
  const headers = {};
  for (const [k0, v] of spec.headers || []) {
    const k = String(k0).toLowerCase();
    if (HOP_BY_HOP.has(k)) continue;
    headers[k] = headers[k] !== undefined ? headers[k] + ', ' + v : String(v);
  }
  // spec.raw (the in-isolate http/https module): the headers exactly as given, the body as sent.
  if (!spec.raw) {
    if (headers['user-agent'] === undefined) headers['user-agent'] = 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)';
    if (headers.accept === undefined) headers.accept = '*/*';
    if (headers['accept-encoding'] === undefined) headers['accept-encoding'] = 'gzip,deflate';
  }
  const body = spec.body != null ? Buffer.from(spec.body, spec.bodyEnc === 'base64' ? 'base64' : 'utf8') : null;
  if (body) headers['content-length'] = String(body.length);
  else if (method === 'POST' || method === 'PUT') headers['content-length'] = '0';
  return { url, method, headers, body, raw: !!spec.raw };
}

// The next request after a redirect response, or throws; null when the redirect is returned.
function followRedirect(req, r, mode, hop) {
  if (mode === 'manual') return null;
  const at = redactUrl(req.url.href);
  if (mode === 'error') throw new FetchFailure(`uri requested responds with a redirect, redirect mode is set to error: ${at}`, 'no-redirect');
  if (hop >= 5) throw new FetchFailure(`maximum redirect reached at: ${at}`, 'max-redirect');
  let url;
  try { url = new URL(r.location, req.url); } catch (e) { throw new FetchFailure(`invalid redirect location: ${String(r.location).slice(0, 200)}`, 'system'); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FetchFailure(`Only HTTP(S) protocols are supported: ${url.protocol}`, 'system', 'EPROTO');
  const next = { url, method: req.method, headers: Object.assign({}, req.headers), body: req.body, raw: req.raw };
  if (r.status === 303 || ((r.status === 301 || r.status === 302) && req.method === 'POST')) {
    next.method = 'GET';
    next.body = null;
    delete next.headers['content-length'];
    delete next.headers['content-type'];
  }
  if (url.host !== req.url.host) {
    delete next.headers.authorization;
    delete next.headers.cookie;
  }
  return next;
}

function decoded(res, req) {
  const enc = String(res.headers['content-encoding'] || '').toLowerCase();
  if (req.raw || req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304) return res;
  if (enc === 'gzip' || enc === 'x-gzip') return res.pipe(zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  if (enc === 'deflate') return res.pipe(zlib.createInflate());
  if (enc === 'br') return res.pipe(zlib.createBrotliDecompress());
  return res;
}

class Egress {
  // policy: EgressPolicy; perInstance / total: fetches in flight (and open sockets) per pool
  // key and for the whole host; resolve(hostname, {signal, trusted}) -> [addresses].
  constructor({ policy, perInstance = 16, total = 256, resolve, keepAliveMs = 4000, poolIdleMs = 60000 } = {}) {
    this.policy = policy || new EgressPolicy('');
    this.perInstance = perInstance;
    this.total = total;
    this.resolve = resolve || systemResolver();
    this.keepAliveMs = keepAliveMs;
    this.poolIdleMs = poolIdleMs;
    this.slots = new Slots(total);
    this.pools = new Map();
    this.open = 0;
    this.sweeper = null;
  }

  // spec: {url, method, headers:[[k,v]], body, bodyEnc, redirect, timeout, size}
  // opts: {poolKey, signal (aborted when the call ends), deadline (epoch ms), defaultTimeoutMs, maxBytes}
  async fetch(spec, opts) {
    let req = prepareRequest(spec);
    const perReq = spec.timeout > 0 ? Math.min(spec.timeout, opts.defaultTimeoutMs) : opts.defaultTimeoutMs;
    const life = new Life(opts.signal, Math.min(opts.deadline, Date.now() + perReq));
    life.url = req.url;
    const maxBytes = spec.size > 0 ? Math.min(spec.size, opts.maxBytes) : opts.maxBytes;
    const pool = this.pool(opts.poolKey);
    try {
      await pool.slots.acquire(life);
      try {
        await this.slots.acquire(life);
        try {
          for (let hop = 0, redirected = false; ; hop++, redirected = true) {
            life.check();
            life.url = req.url;
            const addrs = await this.resolveChecked(req.url, life);
            const r = await this.hop(pool, req, addrs, life, maxBytes);
            const next = r.location ? followRedirect(req, r, spec.redirect, hop) : null;
            if (next) { req = next; continue; }
            return this.answer(r, req.url, redirected);
          }
        } finally { this.slots.release(); }
      } finally { pool.slots.release(); pool.lastUsed = Date.now(); }
    } finally { life.end(); }
  }

  answer(r, url, redirected) {
    const out = { status: r.status, statusText: r.statusText, headers: r.headers, url: url.href, redirected };
    out.text = r.bytes.toString('utf8');
    if (r.bytes.length && !isUtf8(r.bytes)) out.b64 = r.bytes.toString('base64');
    return out;
  }

  pool(key) {
    const k = String(key || '');
    let pool = this.pools.get(k);
    if (!pool) {
      pool = new Pool(this);
      this.pools.set(k, pool);
      if (!this.sweeper) {
        this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.poolIdleMs / 2));
        this.sweeper.unref();
      }
    }
    return pool;
  }

  // Pools unused for poolIdleMs are closed (their keep-alive sockets with them).
  sweep() {
    const cutoff = Date.now() - this.poolIdleMs;
    for (const [key, pool] of this.pools) {
      if (pool.slots.idle && pool.lastUsed < cutoff) { pool.destroy(); this.pools.delete(key); }
    }
  }

  close() {
    clearInterval(this.sweeper);
    this.sweeper = null;
    for (const pool of this.pools.values()) pool.destroy();
    this.pools.clear();
  }

  count(pool, socket) {
    socket[COUNTED] = true;
    pool.open++;
    this.open++;
    socket.once('close', () => this.uncount(pool, socket));
    return socket;
  }

  uncount(pool, socket) {
    if (!socket[COUNTED]) return;
    socket[COUNTED] = false;
    pool.open--;
    this.open--;
  }

  overCap(pool) { return pool.open > this.perInstance || this.open > this.total; }

  closeSocket(pool, socket) {
    this.uncount(pool, socket);
    socket.destroy();
  }

  // Before a request may open a socket: idle keep-alive sockets give way so that open sockets
  // stay within perInstance for the pool and total for the host.
  makeRoom(pool) {
    if (pool.open >= this.perInstance) pool.closeIdle(pool.open - this.perInstance + 1);
    for (const other of this.pools.values()) {
      if (this.open < this.total) break;
      other.closeIdle(this.open - this.total + 1);
    }
  }

  // Resolves and checks the destination of one hop. Returns the addresses to connect to.
  async resolveChecked(url, life) {
    const hostname = bareHost(url);
    const trusted = this.policy.hostAllowed(hostname);
    if (net.isIP(hostname)) {
      const why = trusted ? null : this.policy.checkAddress(hostname);
      if (why) throw failed(url, `egress denied: ${why}`, 'EGRESS_DENIED');
      return [hostname];
    }
    if (!/^[a-z0-9.\-_]+$/i.test(hostname)) throw failed(url, 'invalid host name', 'EINVAL');
    let addrs;
    try {
      addrs = await life.race(Promise.resolve(this.resolve(hostname, { signal: life.signal, trusted })));
    } catch (e) {
      if (e instanceof FetchFailure) throw e;
      const code = e && e.code === 'EAI_AGAIN' ? 'EAI_AGAIN' : 'ENOTFOUND';
      throw failed(url, `getaddrinfo ${code} ${hostname}`, code);
    }
    life.check(); // a lookup that ended after the call did is never followed by a connect
    if (!addrs || !addrs.length) throw failed(url, `getaddrinfo ENOTFOUND ${hostname}`, 'ENOTFOUND');
    if (!trusted) {
      for (const a of addrs) {
        const why = this.policy.checkAddress(a);
        if (why) throw failed(url, `egress denied: ${hostname} resolves to ${why}`, 'EGRESS_DENIED');
      }
    }
    return addrs;
  }

  hop(pool, req, addrs, life, maxBytes) {
    const { url, method } = req;
    const secure = url.protocol === 'https:';
    const hostname = bareHost(url);
    const options = {
      host: hostname,
      port: url.port || (secure ? 443 : 80),
      path: (url.pathname || '/') + url.search,
      method,
      headers: Object.assign({ host: url.host }, req.headers),
      agent: pool.agent(url.protocol),
      lookup: pinnedLookup(addrs),
    };
    if (secure && !net.isIP(hostname)) options.servername = hostname.replace(/\.$/, '');
    life.check();
    const reusable = (options.agent.freeSockets[options.agent.getName(options)] || []).some((s) => !s.destroyed);
    if (!reusable) this.makeRoom(pool);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn, value) => {
        if (settled) return;
        settled = true;
        life.signal.removeEventListener('abort', onAbort);
        fn(value);
      };
      const fail = (err) => { finish(reject, err); request.destroy(); };
      const onAbort = () => fail(life.error());
      const request = (secure ? https : http).request(options, (res) => this.onResponse(res, req, maxBytes, finish, fail, resolve));
      request.on('error', (e) => fail(life.signal.aborted ? life.error() : failed(url, e.message, e.code)));
      life.signal.addEventListener('abort', onAbort, { once: true });
      if (req.body) request.end(req.body); else request.end();
    });
  }

  onResponse(res, req, maxBytes, finish, fail, resolve) {
    const { url } = req;
    const status = res.statusCode;
    const headers = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
    const base = { status, statusText: res.statusMessage || '', headers };
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      // The body of a redirect is not read: a slow or endless one must not keep a socket.
      res.destroy();
      finish(resolve, Object.assign(base, { location: res.headers.location, bytes: Buffer.alloc(0) }));
      return;
    }
    const stream = decoded(res, req);
    const chunks = [];
    let size = 0;
    stream.on('data', (c) => {
      size += c.length;
      if (size > maxBytes) { fail(new FetchFailure(`content size at ${redactUrl(url.href)} over limit: ${maxBytes}`, 'max-size')); return; }
      chunks.push(c);
    });
    stream.on('error', (e) => fail(new FetchFailure(`Invalid response body while trying to fetch ${redactUrl(url.href)}: ${e.message}`, 'system', e.code)));
    stream.on('end', () => finish(resolve, Object.assign(base, { bytes: Buffer.concat(chunks) })));
  }
}

module.exports = { Egress, EgressPolicy, FetchFailure, redactUrl, prepareRequest };
