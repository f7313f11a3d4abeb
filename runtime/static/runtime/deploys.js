/* The instance page's Deploys tab: the roll back confirmation, and the deploys table kept live
   while a deploy of this instance is pending. Text only. Server side: runtime/admin_deploys.py. */
(function () {
  "use strict";
  var $ = function (sel) { return document.querySelector(sel); };
  var configNode = document.getElementById("fn-deploys-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);

  var start = $("#fn-rollback-start");
  if (start) {
    start.addEventListener("click", function () { $("#fn-rollback-confirm").hidden = false; start.hidden = true; });
    $("#fn-rollback-cancel").addEventListener("click", function () { $("#fn-rollback-confirm").hidden = true; start.hidden = false; });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function render(rows) {
    var body = $("#fn-deploys-table tbody");
    body.textContent = "";
    rows.slice(0, 20).forEach(function (d) {
      var row = el("tr", { "class": "fn-deploy-" + d.status.toLowerCase() });
      row.appendChild(el("td", {}, new Date(d.createdAt).toLocaleString()));
      row.appendChild(el("td", {}, "v" + d.version));
      var status = el("td");
      status.appendChild(el("span", { "class": "fn-status-pill fn-status-" + d.status.toLowerCase() }, d.status));
      row.appendChild(status);
      row.appendChild(el("td", {}, d.requestedBy || "-"));
      row.appendChild(el("td", { "class": "fn-deploy-error" }, d.error));
      body.appendChild(row);
    });
    var newest = rows[0];
    if (newest && newest.status === "SUCCEEDED") $("#fn-running-version").textContent = "v" + newest.version;
  }

  function poll() {
    fetch(config.deploymentsUrl + "?instance=" + encodeURIComponent(config.instance), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) { render(data.deployments || []); if (!data.done) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (config.pending) poll();
})();
