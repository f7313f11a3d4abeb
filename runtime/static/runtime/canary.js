/* The instance page's Canary tab: both versions' figures, refreshed while the canary is active.
   Text only (no HTML from data). Server side: runtime/canary/admin.py. */
(function () {
  "use strict";
  var configNode = document.getElementById("fn-canary-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var initial = JSON.parse(document.getElementById("fn-canary-initial").textContent);

  function shown(arm, name) {
    if (name === "delivered") return arm.events - arm.errors;
    if (name === "errorRate") return arm.errorRate === null ? "-" : arm.errorRate + " %";
    if (name === "p95Ms") return arm.p95Ms === null || arm.p95Ms === undefined ? "-" : "≤ " + arm.p95Ms + " ms";
    return arm[name];
  }

  function render(canary) {
    if (!canary) return;
    document.querySelectorAll("#fn-canary-arms [data-arm]").forEach(function (cell) {
      var arm = canary.figures[cell.dataset.arm] || {};
      var value = shown(arm, cell.dataset.figure);
      cell.textContent = value === undefined || value === null ? "-" : String(value);
    });
    var status = document.getElementById("fn-canary-status");
    if (status) status.textContent = canary.status;
    var reason = document.getElementById("fn-canary-reason");
    if (reason) reason.textContent = canary.reason || "";
    var panel = document.getElementById("fn-canary-panel");
    if (panel) panel.dataset.status = canary.status;
    if (canary.status !== "ACTIVE") {
      document.querySelectorAll("#fn-canary-promote, #fn-canary-abort").forEach(function (b) { b.hidden = true; });
    }
  }

  function poll() {
    fetch(config.feedUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        render(data.canary);
        if (data.canary && data.canary.status === "ACTIVE") setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  render(initial);
  if (initial && initial.status === "ACTIVE") setTimeout(poll, 2000);
})();
