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

