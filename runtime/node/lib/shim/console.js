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

