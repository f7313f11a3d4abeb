// In-isolate runtime shim. Evaluated once per isolate, before any library bundle
// and before the user's code. It runs in strict mode inside a closure: the host
// bridges (ivm Callbacks, set as __sb_* globals by lib/entry.js) are captured here and
// deleted from the global object, so user code can never reach them.
// Its sources are the parts in lib/shim/, one function body that build.js concatenates
// (SHIM_PARTS order) into dist/shim.js: this part opens the closure, invoke.js closes it.
(function (g) {
  'use strict';

  // ---- capture host bridges, then remove them from the global --------------
  // Errors thrown by a host bridge are rebuilt here from their message alone, so they carry
  // no host stack frames or file paths.
  const ReflectApply = Reflect.apply;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const ErrorCtor = Error;
  function hostCall(fn) {
    return function () {
      try {
        return ReflectApply(fn, undefined, arguments);
      } catch (e) {
        let name = 'Error';
        let message = 'host bridge failed';
        try { name = String(e.name); message = String(e.message); } catch (_) { /* keep the defaults */ }
        const C = name === 'TypeError' ? TypeErrorCtor : name === 'RangeError' ? RangeErrorCtor : ErrorCtor;
        throw new C(message);
      }
    };
  }
  // The crypto bridges run on the host after its event loop had a turn (fair to neighbours);
  // where the isolate is entered synchronously (a bundle's top level) the direct ones serve.
  // The first DIRECT_OPS small operations of each invocation (a whole batch is one) also take
  // the direct bridge: a turn costs ~0.5 ms, a direct call ~0.05 ms, and an SDK signing a request
  // (AWS SigV4: about six HMACs) paid the turns at every call. A direct call holds the host's
  // thread for microseconds (DIRECT_MAX_CHARS of input), so these few cannot starve it; the
  // host counts both kinds in the call's host-work budget.
  const DIRECT_OPS = 32;
  const DIRECT_MAX_CHARS = 4096;
  let directLeft = 0;
  const argList = Function.prototype.call.bind(Array.prototype.slice);
  function fairCall(ref, direct, size) {
    const copy = { arguments: { copy: true } };
    return hostCall(function () {
      if (directLeft > 0 && size(arguments) <= DIRECT_MAX_CHARS) {
        directLeft--;
        return ReflectApply(direct, undefined, arguments);
      }
      try {
        return ref.applySyncPromise(undefined, argList(arguments), copy);
      } catch (e) {
        if (!/synchronous|default thread|applySyncPromise/i.test(String(e && e.message))) throw e;
        return ReflectApply(direct, undefined, arguments);
      }
    });
  }
  // Input size of a hash bridge call, in characters: its key and parts are [string, encoding].
  function hashChars(args) {
    let n = 0;
    const key = args[1];
    const parts = args[2];
    if (key) n += key[0].length;
    for (let i = 0; i < parts.length; i++) n += parts[i][0].length;
    return n;
  }
  const H = {
    hash: fairCall(g.__sb_hash_turn, g.__sb_hash, hashChars), // (alg, key|null, parts[[str,enc]], outEnc) -> string
    random: fairCall(g.__sb_random_turn, g.__sb_random, (args) => Number(args[0])), // (n) -> base64
    uuid: fairCall(g.__sb_uuid_turn, g.__sb_uuid, () => 0), // () -> string
    fetch: g.__sb_fetch, // (opId, reqJson, ev, evDeadline) ignored-mode; settles later
    timer: g.__sb_timer, // (id, ms, repeat, ev, evDeadline) ignored-mode
    clear: g.__sb_clear, // (id, ev) ignored-mode
    evEnd: g.__sb_evend, // (ev) ignored-mode: cancel the host timers/fetches of a batch event
    evDone: g.__sb_evdone, // (ev, resultJson) ignored-mode: one batch event finished
  };
  // Batch event in progress (run_batch): its index and deadline tag the host operations it
  // starts, so the host keeps fetch traces, fetch counts and timers per event. -1 = single call.
  let curEv = -1;
  let curDeadline = 0;
  const L = JSON.parse(g.__sb_limits); // the limits enforced here (lib/scripts.js SHIM_LIMITS)
  for (const k of Object.getOwnPropertyNames(g)) {
    if (k.startsWith('__sb_')) delete g[k];
  }
  delete g.WebAssembly;
  delete g.SharedArrayBuffer;
  delete g.Atomics;
