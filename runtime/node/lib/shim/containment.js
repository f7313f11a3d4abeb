  // Resizable ArrayBuffers grow outside isolated-vm's memory accounting (V8 reserves
  // maxByteLength and commits pages on resize() without asking the allocator), and V8 has no
  // flag to turn them off: the constructor refuses `maxByteLength`. Both references to the
  // original constructor (the global and the prototype's `constructor`) are replaced.
  {
    const OrigArrayBuffer = ArrayBuffer;
    const construct = Reflect.construct;
    const AB = function ArrayBuffer(length, options) {
      if (new.target === undefined) throw new TypeError("Constructor ArrayBuffer requires 'new'");
      if (options !== null && typeof options === 'object' && options.maxByteLength !== undefined) {
        throw new RangeError('resizable ArrayBuffers (maxByteLength) are not available in functions');
      }
      return construct(OrigArrayBuffer, [length], new.target);
    };
    Object.defineProperty(AB, 'prototype', { value: OrigArrayBuffer.prototype });
    Object.defineProperty(AB, 'isView', { value: OrigArrayBuffer.isView, writable: true, configurable: true });
    Object.defineProperty(OrigArrayBuffer.prototype, 'constructor', { value: AB, writable: true, configurable: true });
    Object.defineProperty(g, 'ArrayBuffer', { value: AB, writable: true, configurable: true, enumerable: false });
  }

  // Intl objects keep their ICU data (about 10 KB each) outside the V8 heap, where neither
  // memoryLimit nor the heap reading after a call sees it: a function could keep gigabytes of
  // them in module scope. Live objects are counted (a FinalizationRegistry forgets collected
  // ones) and capped per isolate: at L.maxIntlObjects the constructor throws RangeError.
  {
    const construct = Reflect.construct;
    const I = g.Intl;
    let live = 0;
    let provoked = false;
    const registry = new FinalizationRegistry(() => { if (--live < L.maxIntlObjects / 2) provoked = false; });
    const register = Function.prototype.call.bind(FinalizationRegistry.prototype.register);
    const track = (o) => {
      live++;
      register(registry, o, 0);
      return o;
    };
    // Dropped objects are only forgotten after a GC, which a function that allocates little
    // may not have for a long time: at half the limit, short-lived garbage is allocated once
    // to bring a GC about (their finalizers run after it); the limit itself is refused.
    const check = () => {
      if (live < L.maxIntlObjects / 2) return;
      if (!provoked) {
        provoked = true;
        let junk = null;
        for (let i = 0; i < 4096; i++) junk = new Array(1024).fill(i);
        junk = null;
      }
      if (live >= L.maxIntlObjects) throw new RangeError(`Intl object limit reached: at most ${L.maxIntlObjects} live Intl objects per function`);
    };
    for (const name of ['Collator', 'DateTimeFormat', 'DisplayNames', 'DurationFormat', 'ListFormat', 'Locale', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'Segmenter', 'v8BreakIterator']) {
      const Orig = I[name];
      if (typeof Orig !== 'function') continue;
      const Wrapped = function (...args) {
        check();
        return track(construct(Orig, args, new.target === undefined || new.target === Wrapped ? Orig : new.target));
      };
      Object.defineProperty(Wrapped, 'name', { value: name });
      Object.defineProperty(Wrapped, 'length', { value: Orig.length });
      Object.defineProperty(Wrapped, 'prototype', { value: Orig.prototype });
      if (typeof Orig.supportedLocalesOf === 'function') Object.defineProperty(Wrapped, 'supportedLocalesOf', { value: Orig.supportedLocalesOf, writable: true, configurable: true });
      Object.defineProperty(Orig.prototype, 'constructor', { value: Wrapped, writable: true, configurable: true });
      Object.defineProperty(I, name, { value: Wrapped, writable: true, configurable: true, enumerable: false });
    }
    // Segmenter#segment() holds an ICU break iterator of its own.
    const Seg = I.Segmenter;
    if (Seg && typeof Seg.prototype.segment === 'function') {
      const segment = Function.prototype.call.bind(Seg.prototype.segment);
      Object.defineProperty(Seg.prototype, 'segment', { value: function segmentCounted(str) { check(); return track(segment(this, str)); }, writable: true, configurable: true });
    }
  }

