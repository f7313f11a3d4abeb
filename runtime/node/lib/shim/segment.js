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

