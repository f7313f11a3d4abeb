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

