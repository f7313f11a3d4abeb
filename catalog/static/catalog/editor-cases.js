/* Saved test cases in the editor: list, save the test pane's input as a case, load one, edit its
   expectation in place, delete, and Run all (a pass/fail table; an input-vs-output diff for insert and source functions).
   Server side: catalog/admin_testcases.py. Reads the page through window.fnEditor. */
(function () {
  "use strict";
  var fn = window.fnEditor;
  var box = document.getElementById("fn-cases");
  if (!fn || !box || !fn.config.testCasesUrl) return;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var el = fn.el;
  var base = fn.config.testCasesUrl;
  var cases = [];
  var canEdit = false;
  var VOLATILE = ["messageId", "timestamp", "receivedAt", "sentAt", "originalTimestamp"];

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": fn.csrfToken() },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return { errors: { __all__: ["HTTP " + r.status] } }; }).then(function (data) {
        if (!r.ok && !data.errors) data.errors = { __all__: [data.error || "HTTP " + r.status] };
        return data;
      });
    });
  }

  function errorText(errors) {
    return Object.keys(errors).map(function (k) {
      return (k === "__all__" ? "" : k + ": ") + [].concat(errors[k]).join(" ");
    }).join("; ");
  }

  function describe(expectation) {
    var e = expectation || {};
    var parts = [e.errorType ? "error " + e.errorType : (e.status || "success")];
    if (e.output) parts.push("output event");
    if (e.events) parts.push(e.events.length + " event" + (e.events.length === 1 ? "" : "s"));
    if (e.requests) parts.push(e.requests.length + " request" + (e.requests.length === 1 ? "" : "s"));
    return parts.join(", ");
  }

  // --- the list ---------------------------------------------------------------------------
  function load() {
    return fetch(base, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      cases = data.testCases || [];
      canEdit = !!data.canEdit;
      renderList();
    }).catch(function (e) { $("#fn-cases-status").textContent = "Could not load test cases: " + e.message; });
  }

  // The Save & Deploy dialog says how many cases will run first.
  function renderDeployNote() {
    var note = $("#fn-deploy-tests");
    if (!note) return;
    note.hidden = !cases.length;
    $("#fn-deploy-tests-count").textContent = String(cases.length);
  }

  function renderList() {
    renderDeployNote();
    var body = $("#fn-cases-table tbody");
    body.textContent = "";
    $("#fn-cases-table").hidden = !cases.length;
    $("#fn-cases-run").disabled = !cases.length || !canEdit;
    $("#fn-cases-status").textContent = cases.length ? "" : "No test cases yet: save the input above as one.";
    cases.forEach(function (c) {
      var row = el("tr", { "data-case": c.id });
      row.appendChild(el("td", { "class": "fn-case-name" }, c.name));
      row.appendChild(el("td", {}, describe(c.expectation)));
      row.appendChild(el("td", { "class": "fn-case-result" }, ""));
      var actions = el("td", { "class": "fn-case-actions" });
      var open = el("button", { type: "button", "class": "fn-case-load" }, "Load");
      open.addEventListener("click", function () { loadCase(c); });
      actions.appendChild(open);
      if (canEdit) {
        var edit = el("button", { type: "button", "class": "fn-case-edit", "aria-expanded": "false" }, "Expectation");
        edit.addEventListener("click", function () { toggleEditor(c, row, edit); });
        actions.appendChild(edit);
        var del = el("button", { type: "button", "class": "fn-case-delete" }, "Delete");
        del.addEventListener("click", function () { removeCase(c, del); });
        actions.appendChild(del);
      }
      row.appendChild(actions);
      body.appendChild(row);
    });
  }

  // A case's input into the test pane: the event (or request) and its setting values.
  function loadCase(c) {
    if (fn.resourceType() === "SOURCE") {
      var headers = $("#fn-headers tbody");
      headers.textContent = "";
      Object.keys(c.payload.headers || {}).forEach(function (k) { fn.addHeader(k, c.payload.headers[k]); });
      $("#fn-body-mode").value = "json";
      $("#fn-source-body").value = typeof c.payload.body === "string" ? c.payload.body : fn.pretty(c.payload.body);
    } else {
      var sample = $("#fn-sample-select");
      if (sample) sample.value = "";
      $("#fn-event-body").value = fn.pretty(c.payload);
      $("#fn-event-body").dispatchEvent(new Event("input", { bubbles: true }));
    }
    Object.keys(c.settings || {}).forEach(function (name) {
      var input = document.getElementById("fn-test-setting-" + name);
      if (!input) return;
      var value = c.settings[name];
      if (input.type === "checkbox") input.checked = !!value;
      else if (Array.isArray(value)) input.value = value.join("\n");
      else if (value && typeof value === "object") input.value = Object.keys(value).map(function (k) { return k + "=" + value[k]; }).join("\n");
      else input.value = value === undefined || value === null ? "" : String(value);
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    (c.encryptedSettingsSet || []).forEach(function (name) {
      var input = document.getElementById("fn-test-setting-" + name);
      if (input && !input.value) input.placeholder = "stored with the test case (yours)";
    });
    $("#fn-case-name").value = c.name;
    $("#fn-case-message").textContent = "Loaded “" + c.name + "”. Run it, or save it again under its name to update it.";
    $("#fn-case-new").open = true;
  }

  // --- the expectation, edited in place -------------------------------------------------------
  // A row under the case with its expectation as JSON: loosen a captured one to the keys that
  // matter (objects match on the keys given), fix a request URL, or write one by hand.
  function toggleEditor(c, row, button) {
    var open = row.nextSibling && row.nextSibling.classList && row.nextSibling.classList.contains("fn-case-editor");
    if (open) { row.parentNode.removeChild(row.nextSibling); button.setAttribute("aria-expanded", "false"); return; }
    button.setAttribute("aria-expanded", "true");
    var editor = el("tr", { "class": "fn-case-editor", "data-editor-for": c.id });
    var cell = el("td", { colspan: "4" });
    var id = "fn-case-expectation-" + c.id;
    cell.appendChild(el("label", { "for": id }, "Expectation of “" + c.name + "” (JSON)"));
    var area = el("textarea", { id: id, "class": "fn-case-expectation", rows: "8", spellcheck: "false" });
    area.value = fn.pretty(c.expectation || {});
    cell.appendChild(area);
    cell.appendChild(el("p", { "class": "help" },
      "Keys: status (success or error), errorType, " + (fn.resourceType() === "SOURCE" ? "events" : "output (insert functions)") +
      ", requests ([{method, url}], made in this order). An object matches when every key given matches; {} expects success."));
    var save = el("button", { type: "button", "class": "button fn-case-expectation-save" }, "Save expectation");
    var cancel = el("button", { type: "button", "class": "button fn-case-expectation-cancel" }, "Cancel");
    var message = el("p", { "class": "fn-case-message", role: "status" }, "");
    save.addEventListener("click", function () { saveExpectation(c, area, save, message); });
    cancel.addEventListener("click", function () { toggleEditor(c, row, button); });
    area.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "Enter")) {
        e.preventDefault(); e.stopPropagation(); saveExpectation(c, area, save, message);
      }
    });
    cell.appendChild(save);
    cell.appendChild(cancel);
    cell.appendChild(message);
    editor.appendChild(cell);
    row.parentNode.insertBefore(editor, row.nextSibling);
    area.focus();
  }

  function saveExpectation(c, area, button, message) {
    var value;
    try {
      value = JSON.parse(area.value || "{}");
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("an object is expected");
    } catch (e) {
      message.textContent = "Not saved: not a JSON object (" + e.message + ").";
      message.className = "fn-case-message fn-fail";
      return;
    }
    button.disabled = true;
    post(base + "save/", { id: c.id, expectation: value }).then(function (data) {
      button.disabled = false;
      if (data.errors) {
        message.textContent = "Not saved: " + errorText(data.errors);
        message.className = "fn-case-message fn-fail";
        return;
      }
      c.expectation = data.testCase.expectation;
      var listed = document.querySelector("#fn-cases-table tr[data-case='" + c.id + "'] td:nth-child(2)");
      if (listed) listed.textContent = describe(c.expectation);
      area.value = fn.pretty(c.expectation);
      message.textContent = "Saved the expectation of “" + c.name + "”.";
      message.className = "fn-case-message fn-ok";
    });
  }

  function removeCase(c, button) {
    if (!window.confirm("Delete the test case “" + c.name + "”?")) return;
    button.disabled = true;
    post(base + encodeURIComponent(c.id) + "/delete/", {}).then(function (data) {
      if (data.errors) { button.disabled = false; $("#fn-cases-status").textContent = errorText(data.errors); return; }
      load();
    });
  }

  // --- save the current input ---------------------------------------------------------------
  function strip(event) {
    if (!event || typeof event !== "object" || Array.isArray(event)) return event;
    var copy = {};
    Object.keys(event).forEach(function (k) { if (VOLATILE.indexOf(k) < 0) copy[k] = event[k]; });
    return copy;
  }

  function expectation() {
    var kind = $("#fn-case-expect").value;
    if (kind === "success") return { status: "success" };
    if (kind === "error") {
      var type = $("#fn-case-error-type").value.trim();
      return type ? { status: "error", errorType: type } : { status: "error" };
    }
    var last = fn.lastResult();
    if (!last || !last.status) throw new Error("Run the input first: the case then expects what that run gave.");
    var e = { status: last.status };
    if (last.status === "error" && last.error && last.error.type) e.errorType = last.error.type;
    if (last.status === "success" && /^INSERT_/.test(fn.resourceType())) e.output = strip(last.returned);
    if (last.status === "success" && fn.resourceType() === "SOURCE") e.events = (last.events || []).map(strip);
    e.requests = (last.requests || []).map(function (r) { return { method: r.method || "GET", url: r.url }; });
    return e;
  }

  function saveCase() {
    var message = $("#fn-case-message");
    var name = $("#fn-case-name").value.trim();
    var body;
    try {
      if (!name) throw new Error("Give the test case a name.");
      var existing = cases.filter(function (c) { return c.name === name; })[0];
      body = { name: name, payload: fn.testPayload(), settings: fn.testSettingValues(), expectation: expectation() };
      if (existing) body.id = existing.id;
    } catch (e) {
      message.textContent = e.message;
      message.className = "fn-case-message fn-fail";
      return;
    }
    $("#fn-case-save").disabled = true;
    post(base + "save/", body).then(function (data) {
      $("#fn-case-save").disabled = false;
      if (data.errors) {
        message.textContent = "Not saved: " + errorText(data.errors);
        message.className = "fn-case-message fn-fail";
        return;
      }
      message.textContent = "Saved “" + data.testCase.name + "”.";
      message.className = "fn-case-message fn-ok";
      load();
    });
  }

  // --- Run all ------------------------------------------------------------------------------
  function diffBlock(rows) {
    var pre = el("pre", { "class": "fn-case-diff" });
    rows.forEach(function (r) {
      var mark = r.kind === "add" ? "+ " : r.kind === "del" ? "- " : "  ";
      pre.appendChild(el("span", { "class": "fn-diff-" + r.kind }, mark + r.text + "\n"));
    });
    return pre;
  }

  function resultRow(r) {
    var row = el("tr", { "class": r.passed ? "fn-case-pass" : "fn-case-fail", "data-case": r.id });
    row.appendChild(el("td", {}, r.name));
    var verdict = el("td");
    verdict.appendChild(el("span", { "class": "fn-status-pill " + (r.passed ? "fn-ok" : "fn-fail") }, r.passed ? "PASS" : "FAIL"));
    row.appendChild(verdict);
    var why = el("td", { "class": "fn-case-why" });
    if (r.failures.length) why.appendChild(el("div", {}, r.failures.join("; ")));
    if (r.diff && r.diff.length) {
      var details = el("details", { "class": "fn-case-io" });
      var changed = r.diff.filter(function (d) { return d.kind !== "ctx"; }).length;
      details.appendChild(el("summary", {}, "Input vs output (" + changed + " lines differ)"));
      details.appendChild(diffBlock(r.diff));
      why.appendChild(details);
    }
    row.appendChild(why);
    return row;
  }

  function runAll() {
    var button = $("#fn-cases-run");
    button.disabled = true;
    button.textContent = "Running…";
    var schema = fn.readSettings().map(function (s) {
      return { name: s.name, label: s.label, type: s.type, required: s.required };
    });
    post(base + "run/", { code: fn.currentCode(), schema: schema }).then(function (data) {
      var results = $("#fn-cases-results");
      results.hidden = false;
      var body = $("#fn-cases-results-table tbody");
      body.textContent = "";
      if (data.errors) { $("#fn-cases-summary").textContent = errorText(data.errors); return; }
      $("#fn-cases-summary").textContent = data.passed + " passed, " + data.failed + " failed";
      $("#fn-cases-summary").className = data.failed ? "fn-fail" : "fn-ok";
      data.results.forEach(function (r) {
        body.appendChild(resultRow(r));
        var listed = document.querySelector("#fn-cases-table tr[data-case='" + r.id + "'] .fn-case-result");
        if (listed) listed.textContent = r.passed ? "PASS" : "FAIL";
      });
    }).catch(function (e) {
      $("#fn-cases-summary").textContent = "Could not run the test cases: " + e.message;
    }).then(function () { button.disabled = !cases.length; button.textContent = "Run all"; });
  }

  $("#fn-cases-run").addEventListener("click", runAll);
  $("#fn-case-save").addEventListener("click", saveCase);
  $("#fn-case-expect").addEventListener("change", function () {
    $("#fn-case-error-type").hidden = $("#fn-case-expect").value !== "error";
  });
  // Enter in these fields saves the case instead of submitting the function's form.
  ["#fn-case-name", "#fn-case-error-type"].forEach(function (sel) {
    $(sel).addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); saveCase(); }
    });
  });
  load();
})();
