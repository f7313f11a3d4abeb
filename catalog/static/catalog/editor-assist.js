/* Completion and lint for the function editor. Completion (Ace's language tools, served with
   django-ace from our static files) offers the runtime's globals, the fields of the event in the
   test pane and the settings declared in the Settings tab; lint warns about settings.x that is
   not declared and handlers the function's type never calls. Reads window.fnEditor. */
(function () {
  "use strict";
  var fn = window.fnEditor;
  if (!fn || !window.ace) return;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var el = fn.el;

  // What the sandbox defines (docs/functions.md, Globals and Preinstalled libraries).
  var GLOBALS = {
    "fetch": "fetch(url, options)", "Headers": "class", "Request": "class", "Response": "class",
    "URL": "class", "URLSearchParams": "class", "btoa": "base64 encode", "atob": "base64 decode",
    "Buffer": "Node Buffer", "console": "captured log", "setTimeout": "timer", "setInterval": "timer",
    "clearTimeout": "timer", "clearInterval": "timer", "crypto": "Node crypto", "_": "lodash 4",
    "moment": "moment-timezone", "uuidv5": "uuid v5", "xml": "xml", "xml2js": "xml2js",
    "cache": "cache.load(key, ttlMs, fn)", "ValidationError": "error: rejected",
    "InvalidEventPayload": "error: rejected", "EventNotSupported": "error: unsupported",
    "RetryError": "error: retried", "DropEvent": "insert: filter out", "AWS": "aws-sdk 2.488",
    "stripe": "stripe 8.115", "twilio": "twilio 3.68", "sendgrid": "@sendgrid/client, mail",
    "mailchimplib": "mailchimp marketing", "nodemailjet": "node-mailjet", "hubspotlib": "@hubspot/api-client",
    "jsforce": "jsforce 1.11", "google": "google.cloud.storage, bigquery", "jsonwebtoken": "jsonwebtoken 8.5",
    "OAuth": "oauth 0.9", "OAuth2": "oauth 0.9", "util": "Node util", "FormData": "form-data 2.5",
    "libphonenumberjslib": "libphonenumber-js", "fetchretrylib": "fetch-retry", "winstonlib": "winston 2.4",
    "zlib": "Node zlib", "https": "Node https", "JSON": "builtin", "Math": "builtin", "Date": "builtin",
    "Promise": "builtin", "Object": "builtin", "Array": "builtin", "String": "builtin", "Number": "builtin"
  };
  var MEMBERS = {
    "console": ["log", "info", "warn", "error", "debug"],
    "Segment": ["track", "identify", "page", "screen", "group", "alias", "set"],
    "cache": ["load", "delete"],
    "crypto": ["createHash", "createHmac", "randomUUID", "randomBytes", "timingSafeEqual"],
    "request": ["json", "text", "headers", "url"],
    "sendgrid": ["client", "mail"], "google": ["cloud"], "mailchimplib": ["mailchimp"],
    "nodemailjet": ["nodemailjet"], "hubspotlib": ["hubspot"], "libphonenumberjslib": ["libphonenumberjs"],
    "fetchretrylib": ["fetchretry"], "winstonlib": ["winston"]
  };
  var HANDLERS = {
    SOURCE: ["onRequest"],
    EVENT: ["onTrack", "onIdentify", "onPage", "onScreen", "onGroup", "onAlias", "onDelete", "onBatch"]
  };

  function handlersFor(type) { return type === "SOURCE" ? HANDLERS.SOURCE : HANDLERS.EVENT; }
  function declaredSettings() { return fn.readSettings().map(function (s) { return s; }); }

  // The event in the test pane, as paths: event.properties.revenue, event.context.ip, ...
  function eventPaths(prefixPath) {
    var event;
    try { event = JSON.parse(($("#fn-event-body") || {}).value || "null"); } catch (e) { return []; }
    if (Array.isArray(event)) event = event[0];
    var node = event;
    for (var i = 0; i < prefixPath.length && node && typeof node === "object"; i++) node = node[prefixPath[i]];
    if (!node || typeof node !== "object" || Array.isArray(node)) return [];
    return Object.keys(node).map(function (k) {
      var v = node[k];
      return { name: k, meta: v === null ? "null" : Array.isArray(v) ? "array" : typeof v };
    });
  }

  // `settings.`, `event.properties.`, `console.`: the dotted path before the word being typed.
  function pathBefore(line, column, prefix) {
    var before = line.slice(0, column - prefix.length);
    var match = /([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\.$/.exec(before);
    return match ? match[1].split(".") : null;
  }

  var completer = {
    id: "fnCompleter",
    identifierRegexps: [/[A-Za-z_$0-9]/],
    getCompletions: function (editor, session, pos, prefix, callback) {
      var path = pathBefore(session.getLine(pos.row), pos.column, prefix);
      var items = [];
      function add(name, meta, score) { items.push({ caption: name, value: name, meta: meta, score: score }); }
      if (!path) {
        Object.keys(GLOBALS).forEach(function (name) { add(name, GLOBALS[name], 900); });
        if (fn.resourceType() === "SOURCE") add("Segment", "emit events", 950);
        add("settings", "declared settings", 1000);
        add("event", "the test event", 1000);
        handlersFor(fn.resourceType()).forEach(function (name) { add(name, "handler", 800); });
      } else if (path.length === 1 && path[0] === "settings") {
        declaredSettings().forEach(function (s) { add(s.name, "setting: " + s.type.toLowerCase(), 1000); });
      } else if (path[0] === "event" || path[0] === "payload") {
        eventPaths(path.slice(1)).forEach(function (f) { add(f.name, "event: " + f.meta, 1000); });
      } else if (path.length === 1 && MEMBERS[path[0]]) {
        MEMBERS[path[0]].forEach(function (name) { add(name, path[0], 1000); });
      }
      callback(null, items);
    }
  };

  // --- lint -----------------------------------------------------------------------------------
  // Comments and strings blanked (same length, so positions hold) before looking for names.
  function blankCommentsAndStrings(code) {
    return code.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"/g, function (m) {
      return m.replace(/[^\n]/g, " ");
    });
  }

  function positionAt(code, index) {
    var before = code.slice(0, index).split("\n");
    return { row: before.length - 1, column: before[before.length - 1].length };
  }

  function lint(code) {
    var text = blankCommentsAndStrings(code);
    var warnings = [];
    var declared = {};
    declaredSettings().forEach(function (s) { declared[s.name] = true; });
    var names = Object.keys(declared);
    var re = /\bsettings\s*\.\s*([A-Za-z_$][\w$]*)/g, m;
    while ((m = re.exec(text))) {
      if (declared[m[1]]) continue;
      warnings.push({
        at: positionAt(code, m.index + m[0].length - m[1].length),
        text: "settings." + m[1] + " is not declared in the Settings tab" +
          (names.length ? " (declared: " + names.join(", ") + ")" : " (no settings are declared)")
      });
    }
    var allowed = handlersFor(fn.resourceType());
    var kind = fn.resourceType() === "SOURCE" ? "source" : "destination and insert";
    var handler = /(?:^|\n)[ \t]*(?:export\s+)?(?:async\s+)?function\s*\*?\s*(on[A-Z][\w$]*)|(?:^|\n)[ \t]*(?:(?:const|let|var)\s+)?(on[A-Z][\w$]*)\s*=\s*(?:async\b|function\b|\()/g;
    while ((m = handler.exec(text))) {
      var name = m[1] || m[2];
      if (allowed.indexOf(name) >= 0) continue;
      warnings.push({
        at: positionAt(code, m.index + m[0].indexOf(name)),
        text: name + " is never called: " + kind + " functions have " + allowed.join(", ")
      });
    }
    return warnings;
  }

  // Ace's JSHint worker replaces the annotations each time it runs; ours are merged back in.
  function setupLint(ed) {
    var session = ed.session;
    var ours = [];
    var merging = false;
    function merge() {
      merging = true;
      var theirs = (session.getAnnotations() || []).filter(function (a) { return !a.fnLint; });
      session.setAnnotations(theirs.concat(ours));
      merging = false;
    }
    session.on("changeAnnotation", function () { if (!merging) merge(); });
    function run() {
      var warnings = lint(ed.getValue());
      ours = warnings.map(function (w) {
        return { row: w.at.row, column: w.at.column, text: w.text, type: "warning", fnLint: true };
      });
      merge();
      renderList(ed, warnings);
    }
    var timer = null;
    function later() { window.clearTimeout(timer); timer = window.setTimeout(run, 250); }
    ed.session.on("change", later);
    var group = $("#setting_defs-group");
    if (group) { group.addEventListener("input", later); group.addEventListener("change", later); }
    document.addEventListener("formset:added", later);
    run();
  }

  function renderList(ed, warnings) {
    var box = $("#fn-lint");
    if (!box) {
      var widget = $(".django-ace-editor");
      if (!widget) return;
      box = el("ul", { id: "fn-lint", "class": "fn-lint", "aria-live": "polite" });
      // Under the editor's row, full width (the row itself lays its label and field side by side).
      var row = widget.closest(".form-row") || widget;
      row.parentNode.insertBefore(box, row.nextSibling);
    }
    box.textContent = "";
    warnings.forEach(function (w) {
      var item = el("li");
      var link = el("button", { type: "button", "class": "fn-lint-item" }, "Line " + (w.at.row + 1) + ": " + w.text);
      link.addEventListener("click", function () { ed.gotoLine(w.at.row + 1, w.at.column, true); ed.focus(); });
      item.appendChild(link);
      box.appendChild(item);
    });
    box.hidden = !warnings.length;
  }

  function setup(ed) {
    var tools = window.ace.require("ace/ext/language_tools");
    if (tools && !ed.getReadOnly()) {
      ed.setOptions({ enableBasicAutocompletion: true, enableLiveAutocompletion: true });
      // Words of the file, Ace's JavaScript keywords, and ours.
      ed.completers = [completer, tools.textCompleter, tools.keyWordCompleter];
    }
    if (!ed.getReadOnly()) setupLint(ed);
  }

  fn.lint = lint;
  if (fn.editor()) setup(fn.editor());
  else window.addEventListener("load", function () { if (fn.editor()) setup(fn.editor()); });
})();
