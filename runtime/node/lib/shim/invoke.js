  // ---- output cap: returned value, events, objects, logs and error of a call -----------
  // `invoke` gives each call L.maxOutputBytes of result JSON (UTF-8 bytes); `invokeBatch`
  // gives that to the whole batch, so the host never holds more than the cap of one call's
  // (or one batch's) results. Over it, a successful result becomes PayloadTooLarge (keeping
  // its logs when they fit); an error keeps its type and message (cut once the budget is
  // spent) so that RetryError and the like still mean what they say.
  let outputLeft = 0;
  let outputBatch = false;
  function charge(head, logList, error) {
    const whole = head + ',"logs":' + logsJson(logList) + '}';
    const bytes = utf8Bytes(whole, outputLeft);
    if (bytes <= outputLeft) { outputLeft -= bytes; return whole; }
    let start;
    if (error) {
      const message = cutUtf8(error.message, SPENT_MESSAGE_MAX, '… [truncated]');
      const after = typeof error.retryAfter === 'number' ? ',"retryAfter":' + JSONstringify(error.retryAfter) : '';
      start = '{"status":"error","error":{"type":' + q(error.type) + ',"message":' + q(message) + ',"stack":""' + after + '},"returned":null,"events":[],"objects":[]';
    } else {
      const what = outputBatch
        ? `the batch's results (returned values, events, objects, logs and errors as JSON) passed ${L.maxOutputBytes} bytes at this event`
        : `its returned value, events, objects and logs come to more than ${L.maxOutputBytes} bytes of JSON`;
      start = '{"status":"error","error":{"type":"PayloadTooLarge","message":' + q(`Function output too large: ${what}`) + ',"stack":""},"returned":null,"events":[],"objects":[]';
    }
    let out = start + ',"logs":' + logsJson(logList) + '}';
    let size = utf8Bytes(out, outputLeft);
    if (size > outputLeft) {
      const note = logList.length ? [logLine('warn', `[${logList.length} log lines dropped: the output limit of ${L.maxOutputBytes} bytes was reached]`)] : [];
      out = start + ',"logs":' + logsJson(note) + '}';
      size = utf8Bytes(out, Infinity);
    }
    outputLeft = outputLeft > size ? outputLeft - size : 0;
    return out;
  }
  async function invoke(kind, payloadJson, settingsJson) {
    outputLeft = L.maxOutputBytes;
    outputBatch = false;
    events = [];
    objects = [];
    timerStarts = 0;
    directLeft = DIRECT_OPS;
    const out = { status: 'success', error: null, returned: null, events: [], objects: [], logs: [] };
    let returned;
    try {
      const payload = JSONparse(payloadJson);
      const settings = JSONparse(settingsJson);
      const failed = new PromiseCtor((_, reject) => { failCurrent = reject; });
      failed.catch(() => {});
      returned = await PromiseRace([dispatch(kind, payload, settings), failed]);
      out.events = events;
      out.objects = objects;
    } catch (e) {
      out.status = 'error';
      out.error = serializeError(e);
      returned = undefined;
    }
    failCurrent = null;
    events = [];
    objects = [];
    // The host cancels this call's timers and fetches when it ends; forget them here.
    timers.clear();
    pendingOps.clear();
    return finish(out, returned);
  }
  // run_batch: each event of the array to its per-type handler, one after the other, in
  // this one host crossing. Each event's result (with its own logs) is sent to the host as
  // soon as it is known (evDone), so the host keeps the finished ones if the isolate is
  // killed later in the batch. Events not started by batchDeadline are left to the host
  // (reported as Timeout). Returns the number of events run.
  async function invokeBatch(payloadJson, settingsJson, count, timeoutMs, batchDeadline) {
    const list = JSONparse(payloadJson);
    const settings = JSONparse(settingsJson);
    if (!isArray(list) || list.length !== count) throw new TypeError('run_batch payload must be an array of `count` events');
    takeLogs(); // nothing from between calls leaks into the first event
    outputLeft = L.maxOutputBytes;
    outputBatch = true;
    directLeft = DIRECT_OPS; // per batch, not per event: the host's thread is held between turns
    let i = 0;
    try {
      for (; i < count; i++) {
        const now = dateNow();
        if (now >= batchDeadline) break;
        curEv = i;
        curDeadline = now + timeoutMs < batchDeadline ? now + timeoutMs : batchDeadline;
        timerStarts = 0;
        const out = { status: 'success', error: null, returned: null, events: [], objects: [], logs: [] };
        let returned;
        try {
          const failed = new PromiseCtor((_, reject) => { failCurrent = reject; });
          failed.catch(() => {});
          returned = await PromiseRace([dispatchEvent(list[i], settings), failed]);
        } catch (e) {
          out.status = 'error';
          out.error = serializeError(e);
          returned = undefined;
        }
        failCurrent = null;
        events = [];
        objects = [];
        if (timers.size || pendingOps.size) {
          timers.clear();
          pendingOps.clear();
          H.evEnd(i);
        }
        H.evDone(i, finish(out, returned));
      }
    } finally {
      curEv = -1;
      curDeadline = 0;
      failCurrent = null;
      timers.clear();
      pendingOps.clear();
    }
    return i;
  }
  function setResolver(fn) { resolver = fn; }

  define('Segment', SegmentObj);
  define('window', g);
  define('self', g);

  // Internals picked up by the host (as References) and then deleted before user code runs.
  g.__sbInternals = { invoke, invokeBatch, settle, setResolver, compat: { hostRequest } };
})(globalThis);
