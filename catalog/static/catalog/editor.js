/* The function editor: tabs, live setting names and preview, the test pane.
   Plain JS, no framework; the server side is catalog/admin_views.py. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("fn-editor-config").textContent);
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var SOURCE = "SOURCE";

  // Same rule as catalog.validation.setting_name_from_label: "API Key" -> apiKey.
  function settingName(label) {
    var words = (label || "").match(/[A-Za-z0-9]+/g) || [];
    if (!words.length) return "";
    return words[0].toLowerCase() + words.slice(1).map(function (w) {
      return w.charAt(0).toUpperCase() + w.slice(1).toLowerCase();
    }).join("");
  }
  window.fnSettingName = settingName;

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

  function editor() {
    var widget = $(".django-ace-widget");
    return widget && widget.editor ? widget.editor : null;
  }

  function currentCode() {
    var ed = editor();
    if (ed) return ed.getValue();
    var area = $("textarea[name=code]");
    return area ? area.value : "";
  }

  function resourceType() {
    var select = $("select[name=resource_type]");
    return select ? select.value : config.resourceType;
  }

  // --- tabs -------------------------------------------------------------------------------
  var settingsGroup = $("#setting_defs-group");
  if (settingsGroup) settingsGroup.setAttribute("data-pane", "settings");
  $$("fieldset.fn-build").forEach(function (f) { f.setAttribute("data-pane", "code"); });
  $$("fieldset.fn-configure").forEach(function (f) {
    f.setAttribute("data-pane", config.function ? "code" : "configure");
  });

  function showTab(name) {
    $$(".fn-tab").forEach(function (t) { t.classList.toggle("active", t.dataset.tab === name); });
    $$("[data-pane]").forEach(function (p) { p.hidden = p.getAttribute("data-pane") !== name; });
    if (name === "code" && editor()) editor().resize();
  }
  $$(".fn-tab").forEach(function (t) {
    t.addEventListener("click", function () { showTab(t.dataset.tab); });
  });
  var firstError = $(".errorlist");
  var errorPane = firstError && firstError.closest("[data-pane]");
  showTab(errorPane ? errorPane.getAttribute("data-pane") : "code");

  // --- type change on the add page: swap an untouched template ------------------------------
  var typeSelect = $("select[name=resource_type]");
  if (typeSelect && !config.function) {
    var previous = typeSelect.value;
    typeSelect.addEventListener("change", function () {
      var ed = editor();
      var untouched = !currentCode().trim() || currentCode() === config.templates[previous];
      if (ed && untouched && config.templates[typeSelect.value]) ed.setValue(config.templates[typeSelect.value], -1);
      previous = typeSelect.value;
      testMode();
    });
  }

  // --- settings: live names, preview, test values -----------------------------------------
  function settingRows() {
    return $$("#setting_defs-group tr.form-row").filter(function (row) {
      return !row.classList.contains("empty-form") && !/__prefix__/.test(row.id);
    });
  }

  function field(row, suffix) { return $("[name$='-" + suffix + "']", row); }

  function readSettings() {
    return settingRows().map(function (row) {
      var label = field(row, "label") ? field(row, "label").value : "";
      var del = field(row, "DELETE");
      return {
        row: row, label: label, name: settingName(label),
        type: field(row, "type") ? field(row, "type").value : "STRING",
        description: field(row, "description") ? field(row, "description").value : "",
        required: !!(field(row, "required") && field(row, "required").checked),
        sensitive: !!(field(row, "sensitive") && field(row, "sensitive").checked),
        deleted: !!(del && del.checked)
      };
    }).filter(function (s) { return s.label.trim() && !s.deleted; });
  }

  function updateNames() {
    settingRows().forEach(function (row) {
      var cell = $("td.field-generated_name", row);
      var label = field(row, "label");
      if (!cell || !label) return;
      var target = $("p", cell) || cell;
      target.textContent = settingName(label.value) || "-";
      target.classList.add("fn-generated-name");
    });
  }

  function previewInput(s) {
    if (s.type === "BOOLEAN") return el("input", { type: "checkbox", disabled: "" });
    if (s.sensitive) return el("input", { type: "password", disabled: "", placeholder: "••••••••" });
    if (s.type === "ARRAY" || s.type === "TEXT_MAP") return el("textarea", { rows: "2", disabled: "" });
    return el("input", { type: "text", disabled: "" });
  }

  function renderPreview(settings) {
    var box = $("#fn-settings-preview");
    if (!box) return;
    box.textContent = "";
    if (!settings.length) { box.appendChild(el("p", { "class": "help" }, "No settings yet.")); return; }
    settings.forEach(function (s) {
      var item = el("div", { "class": "fn-preview-item" });
      item.appendChild(el("label", {}, s.label + (s.required ? " *" : "")));
      item.appendChild(previewInput(s));
      if (s.description) item.appendChild(el("p", { "class": "help" }, s.description));
      var how = el("p", { "class": "fn-access" });
      how.appendChild(document.createTextNode("Accessible in code as "));
      how.appendChild(el("code", {}, "settings." + s.name));
      if (s.sensitive) how.appendChild(document.createTextNode(" (encrypted; never shown again after saving)"));
      item.appendChild(how);
      box.appendChild(item);
    });
  }

  // Typed test values survive re-renders and page loads: kept per function for this tab
  // (sessionStorage). Encrypted settings' values stay in memory only, never in browser storage.
  var storeKey = "fn-test:" + (config.function || "new");
  var sensitive = {};
  var stored = loadStored();
  var testValues = stored.settings || {};

  function loadStored() {
    try {
      var raw = window.sessionStorage.getItem(storeKey);
      if (raw === null && config.function) {
        // The first load after Create: take over what was typed on the add page.
        raw = window.sessionStorage.getItem("fn-test:new");
        window.sessionStorage.removeItem("fn-test:new");
      }
      return JSON.parse(raw || "{}") || {};
    } catch (e) { return {}; }
  }
  function keepStored(key, value) {
    stored[key] = value;
    try { window.sessionStorage.setItem(storeKey, JSON.stringify(stored)); } catch (e) { /* storage full or off */ }
  }
  function keepTestValues() {
    var plain = {};
    Object.keys(testValues).forEach(function (name) { if (!sensitive[name]) plain[name] = testValues[name]; });
    keepStored("settings", plain);
  }

  function testInput(s) {
    var input = s.type === "BOOLEAN" ? el("input", { type: "checkbox" })
      : (s.type === "ARRAY" || s.type === "TEXT_MAP") ? el("textarea", { rows: "2" })
      : el("input", { type: s.sensitive ? "password" : "text", autocomplete: "off" });
    input.dataset.setting = s.name;
    input.dataset.type = s.type;
    input.dataset.label = s.label;
    if (s.required) input.dataset.required = "1";
    input.id = "fn-test-setting-" + s.name;
    if (s.type === "BOOLEAN") input.checked = !!testValues[s.name];
    else input.value = testValues[s.name] || "";
    function typed() {
      testValues[s.name] = s.type === "BOOLEAN" ? input.checked : input.value;
      input.classList.remove("fn-invalid");
      keepTestValues();
    }
    input.addEventListener("input", typed);
    input.addEventListener("change", typed);
    return input;
  }

  // Rebuilt only when the settings' shape changes: a blur in the Settings tab fires `change`
  // without changing anything, and rebuilding then would swallow the click that caused it.
  var renderedShape = null;
  function renderTestSettings(settings) {
    var box = $("#fn-test-settings");
    if (!box) return;
    var shape = JSON.stringify(settings.map(function (s) { return [s.name, s.label, s.type, s.required, s.sensitive]; }));
    if (shape === renderedShape) return;
    renderedShape = shape;
    sensitive = {};
    settings.forEach(function (s) { if (s.sensitive) sensitive[s.name] = true; });
    keepTestValues();
    box.textContent = "";
    if (!settings.length) { box.appendChild(el("p", { "class": "help" }, "No settings.")); return; }
    settings.forEach(function (s) {
      var wrap = el("div", { "class": "fn-test-setting" });
      var input = testInput(s);
      wrap.appendChild(el("label", { "for": input.id }, s.label + (s.required ? " *" : "") + " (settings." + s.name + ")"));
      wrap.appendChild(input);
      box.appendChild(wrap);
    });
  }

  function settingsChanged() {
    updateNames();
    var settings = readSettings();
    renderPreview(settings);
    renderTestSettings(settings);
  }
  if (settingsGroup) {
    settingsGroup.addEventListener("input", settingsChanged);
    settingsGroup.addEventListener("change", settingsChanged);
    if (window.django && django.jQuery) django.jQuery(document).on("formset:added formset:removed", settingsChanged);
    document.addEventListener("formset:added", settingsChanged);
  }
  settingsChanged();

  function testSettingValues() {
    var values = {};
    $$("#fn-test-settings [data-setting]").forEach(function (input) {
      var kind = input.dataset.type, raw = input.value;
      if (kind === "BOOLEAN") { values[input.dataset.setting] = input.checked; return; }
      if (!raw) return;
      if (kind === "ARRAY") values[input.dataset.setting] = raw.split("\n").map(function (v) { return v.trim(); }).filter(Boolean);
      else if (kind === "TEXT_MAP") {
        var map = {};
        raw.split("\n").forEach(function (line) {
          var i = line.indexOf("=");
          if (i > 0) map[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        });
        values[input.dataset.setting] = map;
      } else values[input.dataset.setting] = raw;
    });
    return values;
  }

  function isEmpty(value) {
    if (value === undefined || value === null || value === "") return true;
    if (Array.isArray(value)) return !value.length;
    return typeof value === "object" && !Object.keys(value).length;
  }

  // Required settings, checked before a run: "Endpoint URL is required" rather than whatever
  // the function does with undefined. A Boolean's unticked box is a value (false).
  function missingSettings(values) {
    return $$("#fn-test-settings [data-required]").filter(function (input) {
      return input.dataset.type !== "BOOLEAN" && isEmpty(values[input.dataset.setting]);
    });
  }

  // --- test pane: input --------------------------------------------------------------------
  function testMode() {
    var source = resourceType() === SOURCE;
    $$("[data-kind=source]").forEach(function (n) { n.hidden = !source; });
    $$("[data-kind=event]").forEach(function (n) { n.hidden = source; });
  }
  testMode();

  function addHeader(name, value) {
    var body = $("#fn-headers tbody");
    if (!body) return;
    var row = el("tr");
    var nameCell = el("td"), valueCell = el("td"), removeCell = el("td");
    var nameInput = el("input", { type: "text", "class": "fn-header-name", placeholder: "Name" });
    var valueInput = el("input", { type: "text", "class": "fn-header-value", placeholder: "Value" });
    nameInput.value = name || "";
    valueInput.value = value || "";
    var remove = el("button", { type: "button" }, "×");
    remove.addEventListener("click", function () { row.remove(); });
    nameCell.appendChild(nameInput); valueCell.appendChild(valueInput); removeCell.appendChild(remove);
    row.appendChild(nameCell); row.appendChild(valueCell); row.appendChild(removeCell);
    body.appendChild(row);
  }
  if ($("#fn-headers")) {
    addHeader("Content-Type", "application/json");
    $("#fn-add-header").addEventListener("click", function () { addHeader("", ""); });
  }

  var sampleSelect = $("#fn-sample-select");
  var eventBody = $("#fn-event-body");
  if (sampleSelect) {
    Object.keys(config.samples).forEach(function (kind) { sampleSelect.appendChild(el("option", { value: kind }, kind)); });
    sampleSelect.addEventListener("change", function () {
      if (sampleSelect.value) eventBody.value = JSON.stringify(config.samples[sampleSelect.value], null, 2);
      keepInput();
    });
    eventBody.addEventListener("input", keepInput);
    var kept = stored.input || {};
    sampleSelect.value = typeof kept.event === "string" ? kept.sample || "" : "track";
    eventBody.value = typeof kept.event === "string" ? kept.event : JSON.stringify(config.samples.track, null, 2);
  }
  function keepInput() { keepStored("input", { sample: sampleSelect.value, event: eventBody.value }); }

  var sourceBody = $("#fn-source-body");
  if (sourceBody) {
    if (typeof stored.sourceBody === "string") sourceBody.value = stored.sourceBody;
    sourceBody.addEventListener("input", function () { keepStored("sourceBody", sourceBody.value); });
  }

  // --- recent events of a source (saved destination and insert functions) -------------------
  var recentSource = $("#fn-recent-source");
  var recentEvent = $("#fn-recent-event");
  var recentStatus = $("#fn-recent-status");
  var recentEvents = [];

  function recentLabel(event) {
    var name = event.event || event.name || event.userId || event.groupId || event.previousId || "";
    return [event.type || "?", name, event.receivedAt || event.timestamp || ""].filter(Boolean).join(" · ");
  }

  function loadRecent() {
    var wanted = recentSource.value;
    recentEvents = [];
    recentEvent.textContent = "";
    recentEvent.hidden = true;
    recentStatus.textContent = wanted ? "Loading recent events…" : "";
    if (!wanted) return;
    fetch(config.samplesUrl + "?source=" + encodeURIComponent(wanted), { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (data) {
        if (recentSource.value !== wanted) return;  // another source was chosen meanwhile
        recentEvents = data.events || [];
        if (!recentEvents.length) { recentStatus.textContent = "No recent events from this source yet."; return; }
        recentEvent.appendChild(el("option", { value: "" }, "Choose one of " + recentEvents.length + " recent events…"));
        recentEvents.forEach(function (event, index) {
          recentEvent.appendChild(el("option", { value: String(index) }, recentLabel(event)));
        });
        recentEvent.hidden = false;
        recentStatus.textContent = "";
      }).catch(function (e) {
        if (recentSource.value === wanted) recentStatus.textContent = "Could not load recent events: " + e.message;
      });
  }

  if (recentSource && recentEvent && eventBody) {
    (config.sampleSources || []).forEach(function (s) { recentSource.appendChild(el("option", { value: s.id }, s.name)); });
    if (!(config.sampleSources || []).length) recentStatus.textContent = "No sources you can read in this workspace.";
    recentSource.addEventListener("change", loadRecent);
    recentEvent.addEventListener("change", function () {
      if (recentEvent.value === "") return;
      eventBody.value = pretty(recentEvents[Number(recentEvent.value)]);
      if (sampleSelect) sampleSelect.value = "";  // the editor now holds a recent event
      keepInput();
    });
    if (sampleSelect) sampleSelect.addEventListener("change", function () { recentEvent.value = ""; });
  }

  function sourcePayload() {
    var headers = {};
    $$("#fn-headers tbody tr").forEach(function (row) {
      var name = $(".fn-header-name", row).value.trim();
      if (name) headers[name] = $(".fn-header-value", row).value;
    });
    var raw = $("#fn-source-body").value;
    var body;
    if ($("#fn-body-mode").value === "form") {
      body = raw.split("\n").filter(function (l) { return l.indexOf("=") > 0; }).map(function (line) {
        var i = line.indexOf("=");
        return encodeURIComponent(line.slice(0, i).trim()) + "=" + encodeURIComponent(line.slice(i + 1).trim());
      }).join("&");
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else {
      body = JSON.parse(raw || "{}");
    }
    return { method: "POST", headers: headers, query: {}, body: body, url: "https://fn.test/hook" };
  }

  // --- test pane: run and output ------------------------------------------------------------
  function show(id, visible) { var n = $(id); if (n) n.hidden = !visible; }
  function pretty(value) { return JSON.stringify(value, null, 2); }

  var lastResult = null;
  function renderResult(result) {
    lastResult = result;
    show("#fn-output", true);
    var ok = result.status === "success";
    var status = $("#fn-status");
    status.className = "fn-status " + (ok ? "fn-ok" : "fn-fail");
    status.textContent = ok ? "SUCCESS — Function has successfully executed." : "ERROR";
    show("#fn-error", !ok);
    if (!ok) {
      var error = result.error || {};
      $("#fn-error-message").textContent = (error.type ? error.type + ": " : "") + (error.message || "");
      $("#fn-error-stack").textContent = error.stack || "";
    }
    var insert = /^INSERT_/.test(resourceType());
    show("#fn-returned-box", ok && (insert || (result.returned !== null && result.returned !== undefined)));
    $("#fn-returned-title").textContent = insert ? "Output event" : "Returned value";
    $("#fn-returned").textContent = pretty(result.returned === undefined ? null : result.returned);
    var emitted = (result.events || []).length + (result.objects || []).length;
    show("#fn-emitted-box", emitted > 0);
    $("#fn-emitted").textContent = pretty({ events: result.events || [], objects: result.objects || [] });
    var logs = (result.logs || []).map(function (l) { return "[" + l.level + "] " + l.message; });
    $("#fn-logs").textContent = logs.length ? logs.join("\n") : "No logs were received.";
    var trace = $("#fn-trace tbody");
    trace.textContent = "";
    (result.requests || []).forEach(function (r) {
      var row = el("tr");
      row.appendChild(el("td", {}, r.method || "GET"));
      row.appendChild(el("td", { "class": "fn-trace-url" }, r.url));
      row.appendChild(el("td", { "class": "fn-trace-status" }, r.status === null || r.status === undefined ? (r.error || "failed") : String(r.status)));
      row.appendChild(el("td", {}, (r.duration_ms || 0) + " ms"));
      trace.appendChild(row);
    });
    if (!(result.requests || []).length) {
      var empty = el("tr"); empty.appendChild(el("td", { colspan: "4" }, "No requests were made."));
      trace.appendChild(empty);
    }
    // Other parts of the pane (the request inspector's captures) render from the same result.
    document.dispatchEvent(new CustomEvent("fn:test-result", { detail: result }));
  }

  function testPayload() {
    return resourceType() === SOURCE ? sourcePayload() : JSON.parse(eventBody.value || "{}");
  }

  function runTest() {
    var payload;
    try {
      payload = testPayload();
    } catch (e) {
      renderResult({ status: "error", error: { type: "InvalidJSON", message: "The test input is not valid JSON: " + e.message } });
      return;
    }
    var values = testSettingValues();
    var missing = missingSettings(values);
    if (missing.length) {
      missing.forEach(function (input) { input.classList.add("fn-invalid"); });
      missing[0].focus();
      renderResult({ status: "error", error: { type: "", message: missing.map(function (input) {
        return input.dataset.label + " is required";
      }).join("\n") } });
      return;
    }
    var workspace = $("select[name=workspace]");
    var body = {
      code: currentCode(), resourceType: resourceType(), payload: payload, settings: values,
      "function": config.function, workspace: workspace ? workspace.value : null
    };
    var button = $("#fn-run");
    button.disabled = true;
    button.textContent = "Running…";
    fetch(config.testUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return { error: "HTTP " + response.status }; });
    }).then(function (result) {
      if (result.error && !result.status) result = { status: "error", error: { type: "Error", message: result.error } };
      renderResult(result);
    }).catch(function (e) {
      renderResult({ status: "error", error: { type: "NetworkError", message: String(e) } });
    }).then(function () { button.disabled = false; button.textContent = "Run"; });
  }
  if ($("#fn-run")) $("#fn-run").addEventListener("click", runTest);

  // --- test webhook capture (source functions) -----------------------------------------------
  var lastCapture = null;
  function fillFromCapture(capture) {
    $("#fn-headers tbody").textContent = "";
    Object.keys(capture.headers || {}).forEach(function (name) {
      if (/^(content-type|user-agent|x-)/i.test(name)) addHeader(name, capture.headers[name]);
    });
    var form = typeof capture.body === "object" && /form/i.test(JSON.stringify(capture.headers));
    $("#fn-body-mode").value = form ? "form" : "json";
    $("#fn-source-body").value = form
      ? Object.keys(capture.body).map(function (k) { return k + "=" + capture.body[k]; }).join("\n")
      : (typeof capture.body === "string" ? capture.body : pretty(capture.body));
    $("#fn-capture-status").textContent = "Request received at " + capture.createdAt + " — the form was filled.";
  }
  function pollCapture() {
    fetch(config.captureUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      if (data.capture && data.capture.id !== lastCapture) { lastCapture = data.capture.id; fillFromCapture(data.capture); }
    }).catch(function () {}).then(function () { setTimeout(pollCapture, 2000); });
  }
  if (config.captureUrl && config.canRun && resourceType() === SOURCE && $("#fn-capture-status")) pollCapture();

  // The source debugger (runtime/static/runtime/debugger.js) hands over a recorded webhook
  // request or event: it fills the pane, and with `run` runs it against the editor's code.
  document.addEventListener("fn:load-input", function (e) {
    var d = e.detail || {};
    if (d.request && $("#fn-headers")) fillFromCapture(d.request);
    else if (d.event !== undefined && eventBody) { eventBody.value = pretty(d.event); if (sampleSelect) sampleSelect.value = ""; }
    else return;
    if (d.run && $("#fn-run") && !$("#fn-run").disabled) runTest();
  });

  // --- copy buttons --------------------------------------------------------------------------
  $$(".fn-copy-btn").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = $(button.dataset.copy).textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
      button.textContent = "Copied";
    });
  });

  // What the editor's other modules read (editor-ide.js, editor-assist.js, editor-cases.js).
  window.fnEditor = {
    config: config, el: el, editor: editor, currentCode: currentCode, resourceType: resourceType,
    readSettings: readSettings, testSettingValues: testSettingValues, runTest: runTest,
    renderResult: renderResult, csrfToken: csrfToken, testPayload: testPayload, addHeader: addHeader,
    pretty: pretty, lastResult: function () { return lastResult; }
  };
  // Save & Deploy (the dialog and the deploy progress) is catalog/deploy.js.
})();
