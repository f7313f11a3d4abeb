'use strict';
// Node's `http`/`https` client over the host fetch bridge: every request an SDK makes goes
// through the same egress checks, limits, request trace and per-call cancellation as
// `fetch`. Request bodies are gathered and sent when the request ends; the response is
// read by the host (size-capped) and then streamed to the caller as an IncomingMessage.
// Redirects are not followed and bodies are not decompressed (as Node's http does).
const EventEmitter = require('events');
const { Readable, Writable } = require('stream');
const { Buffer } = require('buffer');
const host = require('./host');

const MAX_REQUEST_BODY = 8 * 1024 * 1024;
const STATUS_CODES = __SB_HTTP_STATUS_CODES__;
const METHODS = __SB_HTTP_METHODS__;

function codeError(message, code) {
  const e = new Error(message);
  e.code = code;
  return e;
}

class Agent extends EventEmitter {
  constructor(options) {
    super();
    this.options = Object.assign({}, options);
    this.keepAlive = !!this.options.keepAlive;
    this.maxSockets = this.options.maxSockets || Infinity;
    this.maxFreeSockets = this.options.maxFreeSockets || 256;
    this.defaultPort = this.options.defaultPort || 80;
    this.protocol = this.options.protocol || 'http:';
    this.requests = {};
    this.sockets = {};
    this.freeSockets = {};
  }
  destroy() {}
  getName(o) { return `${(o && o.host) || 'localhost'}:${(o && o.port) || ''}:${(o && o.localAddress) || ''}`; }
}

// The object handed out as `req.socket` / the 'socket' event: no real socket exists.
class FakeSocket extends EventEmitter {
  constructor(encrypted) {
    super();
    this.connecting = false;
    this.encrypted = encrypted;
    this.readable = true;
    this.writable = true;
    this.remoteAddress = undefined;
    this.remotePort = undefined;
    this.bytesWritten = 0;
    this.bytesRead = 0;
  }
  setTimeout(ms, cb) { if (cb) this.once('timeout', cb); return this; }
  setNoDelay() { return this; }
  setKeepAlive() { return this; }
  ref() { return this; }
  unref() { return this; }
  address() { return {}; }
  destroy() { this.destroyed = true; return this; }
  end() { return this; }
  getPeerCertificate() { return {}; }
}

function lowerHeaders(pairs) {
  const headers = {};
  const raw = [];
  for (const [k, v] of pairs) {
    raw.push(k, v);
    const name = k.toLowerCase();
    if (name === 'set-cookie') (headers[name] = headers[name] || []).push(v);
    else if (headers[name] === undefined) headers[name] = v;
    else if (!SINGLE.has(name)) headers[name] += `, ${v}`;
  }
  return { headers, raw };
}
// Node keeps the first value of these and drops the duplicates.
const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization',
  'referer', 'retry-after', 'server', 'user-agent']);

class IncomingMessage extends Readable {
  constructor(reply, socket, req) {
    super();
    const { headers, raw } = lowerHeaders(reply.headers || []);
    this.statusCode = reply.status;
    this.statusMessage = reply.statusText || STATUS_CODES[reply.status] || '';
    this.headers = headers;
    this.rawHeaders = raw;
    this.trailers = {};
    this.rawTrailers = [];
    this.httpVersion = '1.1';
    this.httpVersionMajor = 1;
    this.httpVersionMinor = 1;
    this.socket = this.connection = socket;
    this.req = req;
    this.url = '';
    this.method = null;
    this.complete = false;
    this.aborted = false;
    this._body = reply.b64 != null ? Buffer.from(reply.b64, 'base64') : Buffer.from(reply.text || '', 'utf8');
    this._offset = 0;
  }
  _read(n) {
    const CHUNK = 64 * 1024;
    if (this._offset >= this._body.length) {
      this.complete = true;
      this.push(null);
      return;
    }
    const end = Math.min(this._body.length, this._offset + Math.max(n || 0, CHUNK));
    const chunk = this._body.subarray(this._offset, end);
    this._offset = end;
    this.push(chunk);
  }
  setTimeout(ms, cb) { if (cb) this.once('timeout', cb); return this; }
  get headersDistinct() {
    const out = {};
    for (let i = 0; i < this.rawHeaders.length; i += 2) (out[this.rawHeaders[i].toLowerCase()] ||= []).push(this.rawHeaders[i + 1]);
    return out;
  }
}

function validHeaderName(name) {
  if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    const e = new TypeError(`Header name must be a valid HTTP token ["${name}"]`);
    e.code = 'ERR_INVALID_HTTP_TOKEN';
    throw e;
  }
}
function validHeaderValue(name, value) {
  if (value === undefined) {
    const e = new TypeError(`Invalid value "undefined" for header "${name}"`);
    e.code = 'ERR_HTTP_INVALID_HEADER_VALUE';
    throw e;
  }
  if (/[\r\n\0]/.test(String(value))) {
    const e = new TypeError(`Invalid character in header content ["${name}"]`);
    e.code = 'ERR_INVALID_CHAR';
    throw e;
  }
}

function parseArgs(defaultProtocol, input, options, cb) {
  let opts = {};
  if (typeof input === 'string') opts = urlToOptions(new host.URL(input));
  else if (input && typeof input === 'object' && typeof input.href === 'string' && input.searchParams) opts = urlToOptions(input);
  else if (input && typeof input === 'object') { cb = options; options = input; }
  else if (typeof input === 'function') { cb = input; options = null; }
  if (typeof options === 'function') { cb = options; options = null; }
  if (options) opts = Object.assign(opts, options);
  if (!opts.protocol) opts.protocol = (opts.agent && opts.agent.protocol) || defaultProtocol;
  if (opts.protocol !== defaultProtocol) {
    throw codeError(`Protocol "${opts.protocol}" not supported. Expected "${defaultProtocol}"`, 'ERR_INVALID_PROTOCOL');
  }
  return { opts, cb };
}

function urlToOptions(u) {
  const o = {
    protocol: u.protocol,
    hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    hash: u.hash,
    search: u.search,
    pathname: u.pathname,
    path: `${u.pathname || ''}${u.search || ''}`,
    href: u.href,
  };
  if (u.port !== '') o.port = Number(u.port);
  if (u.username || u.password) o.auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  return o;
}

class ClientRequest extends Writable {
  constructor(defaultProtocol, input, options, cb) {
    super();
    const { opts, cb: callback } = parseArgs(defaultProtocol, input, options, cb);
    this._opts = opts;
    this.protocol = opts.protocol;
    this.method = String(opts.method || 'GET').toUpperCase();
    const defaultPort = opts.defaultPort || (opts.agent && opts.agent.defaultPort) || (this.protocol === 'https:' ? 443 : 80);
    this.host = opts.hostname || (opts.host ? String(opts.host).replace(/:\d+$/, '') : 'localhost');
    this.port = opts.port ? Number(opts.port) : defaultPort;
    this.path = opts.path || '/';
    if (/[\u0000-\u0020]/.test(this.path)) throw codeError('Request path contains unescaped characters', 'ERR_UNESCAPED_CHARACTERS');
    this.agent = opts.agent;
    this._headers = new Map(); // lower -> [name, value]
    const h = opts.headers;
    if (Array.isArray(h)) {
      for (let i = 0; i + 1 < h.length; i += 2) this.appendHeader(h[i], h[i + 1]);
    } else if (h) {
      for (const k of Object.keys(h)) if (h[k] !== undefined) this.setHeader(k, h[k]);
    }
    if (opts.auth && !this.hasHeader('authorization')) this.setHeader('Authorization', `Basic ${Buffer.from(String(opts.auth)).toString('base64')}`);
    this._chunks = [];
    this._size = 0;
    this._timeoutMs = opts.timeout > 0 ? opts.timeout : 0;
    this._timer = null;
    this.aborted = false;
    this.headersSent = false;
    this.reusedSocket = false;
    this.finished = false;
    this.res = null;
    this.socket = this.connection = new FakeSocket(this.protocol === 'https:');
    this.maxHeadersCount = null;
    if (callback) this.once('response', callback);
    if (opts.signal) {
      if (opts.signal.aborted) Promise.resolve().then(() => this.destroy(abortError()));
      else if (typeof opts.signal.addEventListener === 'function') opts.signal.addEventListener('abort', () => this.destroy(abortError()), { once: true });
    }
    Promise.resolve().then(() => {
      if (this.destroyed) return;
      this.emit('socket', this.socket);
      this.socket.emit('connect');
      this.socket.emit('secureConnect');
    });
  }

  setHeader(name, value) {
    if (this.headersSent) throw codeError('Cannot set headers after they are sent to the client', 'ERR_HTTP_HEADERS_SENT');
    validHeaderName(name);
    validHeaderValue(name, value);
    this._headers.set(name.toLowerCase(), [name, value]);
    return this;
  }
  appendHeader(name, value) {
    validHeaderName(name);
    validHeaderValue(name, value);
    const k = name.toLowerCase();
    const cur = this._headers.get(k);
    if (!cur) this._headers.set(k, [name, value]);
    else cur[1] = [].concat(cur[1], value);
    return this;
  }
  getHeader(name) { const v = this._headers.get(String(name).toLowerCase()); return v ? v[1] : undefined; }
  hasHeader(name) { return this._headers.has(String(name).toLowerCase()); }
  removeHeader(name) {
    if (this.headersSent) throw codeError('Cannot remove headers after they are sent to the client', 'ERR_HTTP_HEADERS_SENT');
    this._headers.delete(String(name).toLowerCase());
  }
  getHeaders() { const o = Object.create(null); for (const [k, [, v]] of this._headers) o[k] = v; return o; }
  getHeaderNames() { return Array.from(this._headers.keys()); }
  getRawHeaderNames() { return Array.from(this._headers.values(), ([n]) => n); }
  flushHeaders() {}
  setNoDelay() {}
  setSocketKeepAlive() {}
  setTimeout(ms, cb) {
    if (cb) this.once('timeout', cb);
    this._timeoutMs = Number(ms) || 0;
    if (this._timer) { host.clearTimeout(this._timer); this._timer = null; }
    if (this._sent && this._timeoutMs > 0) this._armTimer();
    return this;
  }
  _armTimer() {
    if (this._timer || !(this._timeoutMs > 0) || this.res) return;
    this._timer = host.setTimeout(() => {
      this._timer = null;
      if (this.res || this.destroyed) return;
      this.emit('timeout');
      this.socket.emit('timeout');
    }, this._timeoutMs);
  }

  _write(chunk, enc, cb) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, enc) : Buffer.from(chunk);
    this._size += b.length;
    if (this._size > MAX_REQUEST_BODY) {
      cb(codeError(`request body over the ${MAX_REQUEST_BODY} byte limit of functions`, 'ERR_FS_FILE_TOO_LARGE'));
      return;
    }
    this._chunks.push(b);
    cb();
  }
  _final(cb) {
    this.finished = true;
    this._send();
    cb();
  }

  _spec() {
    const headers = [];
    for (const [, [name, value]] of this._headers) {
      if (Array.isArray(value)) for (const v of value) headers.push([name, String(v)]);
      else headers.push([name, String(value)]);
    }
    const hostPart = this.host.includes(':') ? `[${this.host}]` : this.host;
    const defaultPort = this.protocol === 'https:' ? 443 : 80;
    const url = `${this.protocol}//${hostPart}${this.port === defaultPort ? '' : `:${this.port}`}${this.path.startsWith('/') ? '' : '/'}${this.path}`;
    const body = this._chunks.length ? Buffer.concat(this._chunks) : null;
    return {
      url,
      method: this.method,
      headers,
      body: body ? body.toString('base64') : null,
      bodyEnc: body ? 'base64' : null,
      redirect: 'manual',
      raw: true,
      timeout: 0,
      size: 0,
    };
  }

  _send() {
    if (this._sent || this.destroyed) return;
    this._sent = true;
    this.headersSent = true;
    this._armTimer();
    const compat = host.compat;
    if (!compat) {
      this._fail(host.notSupported('http requests', 'the host request bridge is missing'));
      return;
    }
    let spec;
    try { spec = this._spec(); } catch (e) { this._fail(e); return; }
    compat.hostRequest(spec).then((reply) => {
      if (this._timer) { host.clearTimeout(this._timer); this._timer = null; }
      if (this.destroyed || this.aborted) return;
      const res = new IncomingMessage(reply, this.socket, this);
      this.res = res;
      res.once('end', () => { this.emit('close'); this.socket.emit('close', false); });
      if (this.listenerCount('response') === 0) res.resume();
      this.emit('response', res);
    }, (err) => this._fail(toNodeError(err)));
  }

  _fail(err) {
    if (this._timer) { host.clearTimeout(this._timer); this._timer = null; }
    if (this._errored || this.aborted) return;
    this._errored = true;
    this.emit('error', err);
    this.emit('close');
  }

  abort() {
    if (this.aborted) return;
    this.aborted = true;
    Promise.resolve().then(() => { this.emit('abort'); this.emit('close'); });
    this.destroy();
  }
  _destroy(err, cb) {
    if (this._timer) { host.clearTimeout(this._timer); this._timer = null; }
    if (this.res && !this.res.complete) this.res.destroy(err || undefined);
    cb(err && !this.aborted ? err : null);
  }
}

function abortError() {
  const e = new Error('The operation was aborted');
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

// FetchError from the host -> the error a Node socket would give.
function toNodeError(err) {
  const msg = String((err && err.message) || err);
  const e = new Error(msg);
  if (err && err.code) e.code = err.code;
  else if (err && err.type === 'request-timeout') e.code = 'ETIMEDOUT';
  else if (err && err.type === 'max-size') e.code = 'ERR_RESPONSE_TOO_LARGE';
  else e.code = 'ECONNRESET';
  e.errno = e.code;
  e.syscall = 'connect';
  if (err && err.type) e.type = err.type;
  return e;
}

function makeModule(protocol) {
  const globalAgent = new Agent({ keepAlive: true, protocol, defaultPort: protocol === 'https:' ? 443 : 80 });
  const AgentClass = protocol === 'https:'
    ? class Agent extends module.exports.Agent { constructor(o) { super(Object.assign({ protocol: 'https:', defaultPort: 443 }, o)); } }
    : module.exports.Agent;
  const m = {
    Agent: AgentClass,
    globalAgent,
    ClientRequest,
    IncomingMessage,
    OutgoingMessage: Writable,
    STATUS_CODES,
    METHODS,
    maxHeaderSize: 16384,
    request(input, options, cb) { return new ClientRequest(protocol, input, options, cb); },
    get(input, options, cb) { const r = new ClientRequest(protocol, input, options, cb); r.end(); return r; },
    createServer() { throw host.notSupported(`${protocol.slice(0, -1)}.createServer()`, 'functions cannot listen for connections'); },
    Server: class Server { constructor() { throw host.notSupported('http.Server', 'functions cannot listen for connections'); } },
    validateHeaderName: validHeaderName,
    validateHeaderValue: validHeaderValue,
    setMaxIdleHTTPParsers() {},
  };
  if (protocol === 'https:') m.Agent.prototype.createConnection = undefined;
  return m;
}

module.exports = { Agent, ClientRequest, IncomingMessage, FakeSocket, makeModule };
