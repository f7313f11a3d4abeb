  // ---- error classes -------------------------------------------------------
  class ValidationError extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  class InvalidEventPayload extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  class EventNotSupported extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  // RetryError(message, {retryAfter}) (or a number): seconds, or an HTTP-date as a 429's
  // Retry-After header gives it; the pipeline waits at least that long (docs/functions.md).
  class RetryError extends Error {
    constructor(message, options) {
      super(message);
      this.name = this.constructor.name;
      const after = typeof options === 'number' ? options : (options !== null && typeof options === 'object' && !(options instanceof Error) ? options.retryAfter : undefined);
      if (after !== undefined && after !== null) this.retryAfter = after;
    }
  }
  class DropEvent extends Error { constructor(message) { super(message); this.name = this.constructor.name; } }
  class FetchError extends Error {
    constructor(message, type, systemError) {
      super(message);
      this.name = 'FetchError';
      this.type = type;
      if (systemError && systemError.code) { this.code = this.errno = systemError.code; }
    }
  }
  for (const C of [ValidationError, InvalidEventPayload, EventNotSupported, RetryError, DropEvent, FetchError]) {
    define(C.name, C);
  }

