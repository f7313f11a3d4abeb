/* Save & Deploy: the dialog (which instances, what each runs now, the diff from that version to
   the code about to be deployed) and the live progress of a deploy after it was submitted.
   Plain JS, text only; the server side is catalog/admin_deploy.py and admin_views.deployments. */
(function () {
  "use strict";
  var configNode = document.getElementById("fn-editor-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function csrfToken() {
    var input = $("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function editorCode() {
    var widget = $(".django-ace-widget");
    if (widget && widget.editor) return widget.editor.getValue();
    var area = $("textarea[name=code]");
    return area ? area.value : "";
  }

  // ---- the dialog ------------------------------------------------------------------------
  var dialog = $("#fn-deploy-dialog");
  var opener = $("#fn-save-deploy");
  if (dialog && opener) {
    // Beside Save, as in Segment's editor.
    var saveButton = $(".submit-row input[name=_save]");
    var openerRow = opener.parentNode;
    if (saveButton) { saveButton.insertAdjacentElement("afterend", opener); openerRow.remove(); }
    opener.addEventListener("click", function () {
      $$(".fn-diff-row", dialog).forEach(function (row) { row.hidden = true; row.dataset.code = ""; });
      $$(".fn-diff-toggle", dialog).forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
      dialog.showModal();
    });
    $("#fn-deploy-cancel").addEventListener("click", function () { dialog.close(); });
    $$("input[name=deploy_instances]", dialog).forEach(function (box) {
      box.addEventListener("change", function () { $("#fn-deploy-chosen").checked = true; updateConfirm(); });
    });
    $$("input[name=deploy_target]", dialog).forEach(function (radio) { radio.addEventListener("change", updateConfirm); });
    $$(".fn-diff-toggle", dialog).forEach(function (button) {
      button.addEventListener("click", function () { toggleDiff(button); });
    });
    updateConfirm();
  }

  function chosenCount() {
    if (!$("#fn-deploy-chosen") || !$("#fn-deploy-chosen").checked) return $$(".fn-deploy-target", dialog).length;
    return $$("input[name=deploy_instances]:checked", dialog).length;
  }

  function updateConfirm() {
    var confirm = $("#fn-deploy-confirm");
    if (!confirm) return;
    var n = chosenCount();
    confirm.textContent = n ? "Save & Deploy to " + n + " instance" + (n === 1 ? "" : "s") : "Save only";
  }

  function toggleDiff(button) {
    var row = button.closest("tr").nextElementSibling;
    if (!row.hidden) { row.hidden = true; button.setAttribute("aria-expanded", "false"); return; }
    row.hidden = false;
    button.setAttribute("aria-expanded", "true");
    var code = editorCode();
    if (row.dataset.code === code) return;  // already shows this code's diff
    row.dataset.code = code;
    var summary = $(".fn-diff-summary", row);
    var pre = $(".fn-diff-inline", row);
    summary.textContent = "Comparing…";
    pre.textContent = "";
    fetch(config.deployDiffUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ from: button.dataset.from, code: code })
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) { renderDiff(summary, pre, data); })
      .catch(function (e) { summary.textContent = "Could not compare: " + e.message; row.dataset.code = ""; });
  }

  function renderDiff(summary, pre, data) {
    if (!data.rows.length) { summary.textContent = "No code changes from v" + data.from.number + "."; return; }
    summary.textContent = "From v" + data.from.number + " to this deploy: +" + data.added + " −" + data.removed + " lines";
    data.rows.forEach(function (row) {
      pre.appendChild(el("span", { "class": "fn-diff-line " + row.kind }, row.text));
    });
  }

  // ---- live progress after a deploy ----------------------------------------------------------
  var FINAL = { SUCCEEDED: true, FAILED: true, SUPERSEDED: true };
  var box = $("#fn-deploy-progress");

  function renderProgress(data) {
    var rows = data.deployments || [];
    var counts = {};
    rows.forEach(function (d) { counts[d.status] = (counts[d.status] || 0) + 1; });
    var finished = rows.filter(function (d) { return FINAL[d.status]; }).length;
    var bar = $("#fn-deploy-bar");
    bar.max = Math.max(rows.length, 1);
    bar.value = rows.length ? finished : 1;
    var parts = ["SUCCEEDED", "FAILED", "SUPERSEDED", "PENDING", "RUNNING"].filter(function (s) { return counts[s]; })
      .map(function (s) { return counts[s] + " " + s.toLowerCase(); });
    $("#fn-deploy-summary").textContent = rows.length ? finished + " of " + rows.length + " done · " + parts.join(", ") : "";
    $("#fn-deploy-title").textContent = (data.done ? "Deployed" : "Deploying") + (rows.length ? " v" + rows[0].version : "");
    box.classList.toggle("fn-deploy-done", !!data.done);
    box.classList.toggle("fn-deploy-has-failures", !!counts.FAILED);
    var body = $("tbody", box);
    body.textContent = "";
    rows.forEach(function (d) {
      var row = el("tr", { "class": "fn-deploy-" + d.status.toLowerCase() });
      var name = el("td");
      name.appendChild(el("a", { href: d.instanceUrl }, d.instance));
      row.appendChild(name);
      row.appendChild(el("td", {}, "v" + d.version));
      var status = el("td");
      status.appendChild(el("span", { "class": "fn-status-pill fn-status-" + d.status.toLowerCase() }, d.status));
      row.appendChild(status);
      row.appendChild(el("td", { "class": "fn-deploy-error" }, d.status === "SUPERSEDED" ? "A newer deploy of this instance replaced it." : d.error));
      body.appendChild(row);
    });
    if (!rows.length) {
      var none = el("tr");
      none.appendChild(el("td", { colspan: "4" }, "Saved; no instance was chosen."));
      body.appendChild(none);
    }
    box.dataset.done = data.done ? "true" : "false";
  }

  function pollDeployments() {
    fetch(config.deploymentsUrl + "?version=" + encodeURIComponent(config.deployed), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        renderProgress(data);
        if (!data.done) setTimeout(pollDeployments, 1000);
      })
      .catch(function (e) {
        $("#fn-deploy-summary").textContent = "Lost contact (" + e.message + "); retrying…";
        setTimeout(pollDeployments, 3000);
      });
  }

  if (box && config.deployed && config.deploymentsUrl) {
    // At the top of the page, where the user looks after submitting.
    var form = $("#content-main form");
    if (form) form.parentNode.insertBefore(box, form);
    box.hidden = false;
    pollDeployments();
  }
})();
