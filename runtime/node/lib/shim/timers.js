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

