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

