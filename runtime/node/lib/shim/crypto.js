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

