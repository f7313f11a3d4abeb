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

