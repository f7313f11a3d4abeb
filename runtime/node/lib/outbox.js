'use strict';
// Delivery of host results (fetch replies, fired timers) into one isolate, through the
// shim's `settle`. At most one delivery is in flight per isolate and fired timers are
// coalesced into one delivery ("timers", ids), so a function that floods timers or stalls
// in a callback cannot pile up work in the host or in isolated-vm's task queue. No
// isolated-vm `timeout` on these applies: the watchdog enforces the deadline.
class Outbox {
  constructor(settleRef) {
    this.ref = settleRef;
    this.items = []; // [kind, id, ok, data]
    this.fired = new Set(); // timer ids due
    this.busy = false;
    this.closed = false;
    this.next = () => { this.busy = false; this.pump(); };
  }

  post(kind, id, ok, data) {
    this.items.push([kind, id, ok, data]);
    this.pump();
  }

  timer(id) {
    this.fired.add(id);
    this.pump();
  }

  // The call ended: what it had not received yet is dropped.
  clear() {
    this.items = [];
    this.fired.clear();
  }

  close() {
    this.closed = true;
    this.clear();
  }

  pump() {
    if (this.busy || this.closed) return;
    let args;
    if (this.items.length) args = this.items.shift();
    else if (this.fired.size) {
      args = ['timers', 0, true, Array.from(this.fired).join(',')];
      this.fired.clear();
    } else return;
    this.busy = true;
    this.ref.apply(undefined, args).then(this.next, this.next);
  }
}

module.exports = { Outbox };
