/* The editor's IDE parts: the resizable split, Cmd/Ctrl+S and Cmd/Ctrl+Enter, the dirty marker
   and leave-page guard, the admin's dark mode, and the user's own stack frames. Completion and
   lint are catalog/editor-assist.js. Reads the page through window.fnEditor (editor.js). */
(function () {
  "use strict";
  var fn = window.fnEditor;
  if (!fn) return;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var el = fn.el;
  var config = fn.config;

  function whenEditor(callback) {
    if (fn.editor()) { callback(fn.editor()); return; }
    // django-ace builds the editors on window load, before this listener (registered later).
    window.addEventListener("load", function () { if (fn.editor()) callback(fn.editor()); });
  }

  function stored(key, fallback) {
    try { var raw = window.localStorage.getItem(key); return raw === null ? fallback : JSON.parse(raw); } catch (e) { return fallback; }
  }
  function store(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage off */ }
  }

  // --- the split: code | test pane, dragged (or arrow keys on the handle), kept per browser -----
  var SPLIT_MIN = 0.3, SPLIT_MAX = 0.8;
  function setupSplit(ed) {
    var bench = $(".fn-workbench"), main = $("#fn-main"), pane = $("#fn-test-pane");
    if (!bench || !main || !pane) return;
    var handle = el("div", {
      "class": "fn-splitter", id: "fn-splitter", role: "separator", tabindex: "0",
      "aria-orientation": "vertical", "aria-label": "Resize the code and test panes", title: "Drag to resize"
    });
    bench.insertBefore(handle, pane);
    bench.classList.add("fn-split");
    function apply(ratio) {
      ratio = Math.min(SPLIT_MAX, Math.max(SPLIT_MIN, ratio));
      main.style.flexBasis = (ratio * 100).toFixed(2) + "%";
      handle.setAttribute("aria-valuenow", String(Math.round(ratio * 100)));
      ed.resize();
      return ratio;
    }
    var ratio = apply(Number(stored("fn-split", 0.62)) || 0.62);
    var dragging = false;
    handle.addEventListener("pointerdown", function (e) {
      dragging = true;
      handle.setPointerCapture(e.pointerId);
      bench.classList.add("fn-dragging");
      e.preventDefault();
    });
    handle.addEventListener("pointermove", function (e) {
      if (!dragging) return;
      var box = bench.getBoundingClientRect();
      ratio = apply((e.clientX - box.left) / box.width);
    });
    function stop() {
      if (!dragging) return;
      dragging = false;
      bench.classList.remove("fn-dragging");
      store("fn-split", ratio);
    }
    handle.addEventListener("pointerup", stop);
    handle.addEventListener("pointercancel", stop);
    handle.addEventListener("keydown", function (e) {
      var step = { ArrowLeft: -0.02, ArrowRight: 0.02 }[e.key];
      if (!step) return;
      e.preventDefault();
      ratio = apply(ratio + step);
      store("fn-split", ratio);
    });
    window.addEventListener("resize", function () { ed.resize(); });
  }

  // --- save and run from the keyboard --------------------------------------------------------
  var cursorKey = "fn-cursor:" + (config.function || "new");
  function saveButton() { return $(".submit-row input[name=_continue]"); }

  // Cmd/Ctrl+S is "Save and continue editing": the page comes back with the cursor where it was.
  function save(ed) {
    var button = saveButton();
    if (!button || !config.canRun) return;
    var pos = ed.getCursorPosition();
    try {
      window.sessionStorage.setItem(cursorKey, JSON.stringify({
        row: pos.row, column: pos.column, scroll: ed.session.getScrollTop()
      }));
    } catch (e) { /* storage off: the cursor starts at the top */ }
    button.click();
  }

  function restoreCursor(ed) {
    var raw = null;
    try { raw = window.sessionStorage.getItem(cursorKey); window.sessionStorage.removeItem(cursorKey); } catch (e) { /* off */ }
    if (!raw) return;
    var pos = JSON.parse(raw);
    ed.moveCursorTo(pos.row, pos.column);
    ed.clearSelection();
    ed.session.setScrollTop(pos.scroll || 0);
    ed.focus();
  }

  function setupKeys(ed) {
    ed.commands.addCommand({
      name: "fnSave", bindKey: { win: "Ctrl-S", mac: "Command-S" }, exec: function () { save(ed); }
    });
    ed.commands.addCommand({
      name: "fnRun", bindKey: { win: "Ctrl-Enter", mac: "Command-Enter" },
      exec: function () { if (config.canRun) fn.runTest(); }, readOnly: false
    });
    // The same keys anywhere else on the page (the test pane, the settings table).
    document.addEventListener("keydown", function (e) {
      if (e.defaultPrevented || !(e.ctrlKey || e.metaKey) || e.altKey) return;
      if (e.key === "s" || e.key === "S") {
        if (!saveButton()) return;
        e.preventDefault();
        save(ed);
      } else if (e.key === "Enter" && config.canRun && $("#fn-run")) {
        e.preventDefault();
        fn.runTest();
      }
    });
    restoreCursor(ed);
  }

  // --- unsaved changes: a marker, the title, and a guard when leaving -------------------------
  function setupDirty(ed) {
    var form = $("#function_form") || ($(".django-ace-widget") && $(".django-ace-widget").closest("form"));
    if (!form || !config.canRun) return;
    var marker = el("span", { "class": "fn-dirty", id: "fn-dirty", role: "status" }, "● Unsaved changes");
    marker.hidden = true;
    var tabs = $("#fn-tabs");
    if (tabs) tabs.appendChild(marker);
    var title = document.title;
    function snapshot() {
      var data = new FormData(form);
      data.delete("csrfmiddlewaretoken");
      var parts = [];
      data.forEach(function (value, key) {
        // The deploy dialog's choices are not edits of the function.
        if (typeof value === "string" && key.indexOf("deploy_") !== 0) parts.push(key + "=" + value);
      });
      return parts.join("&");
    }
    var clean = snapshot();
    // A form sent back with errors holds what was typed, not what is saved.
    var dirty = !!$(".errornote");
    var leaving = false;
    function update() {
      dirty = snapshot() !== clean || !!$(".errornote");
      marker.hidden = !dirty;
      document.title = (dirty ? "● " : "") + title;
      document.body.classList.toggle("fn-is-dirty", dirty);
    }
    ed.session.on("change", function () { window.setTimeout(update, 0); });  // after django-ace copies the text
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    document.addEventListener("formset:added", update);
    form.addEventListener("submit", function () { leaving = true; });
    window.addEventListener("beforeunload", function (e) {
      if (!dirty || leaving) return;
      e.preventDefault();
      e.returnValue = "";  // some browsers still need it to show the prompt
    });
    update();
    fn.isDirty = function () { return dirty; };
  }

  // --- dark mode: the admin's theme (light, dark, or auto = the system's) ---------------------
  var THEMES = { light: "ace/theme/chrome", dark: "ace/theme/tomorrow_night" };
  function setupTheme(ed) {
    var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    function apply() {
      var mode = document.documentElement.dataset.theme || "auto";
      var dark = mode === "dark" || (mode === "auto" && !!media && media.matches);
      ed.setTheme(dark ? THEMES.dark : THEMES.light);
      document.body.classList.toggle("fn-dark", dark);
    }
    new MutationObserver(apply).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    if (media && media.addEventListener) media.addEventListener("change", apply);
    apply();
  }

  // --- stack traces: the user's own frames, each one a link to its line ----------------------
  var FRAME = /function\.js:(\d+):(\d+)/;
  function userFrames(stack) {
    return String(stack || "").split("\n").slice(1).map(function (line) { return line.trim(); }).filter(function (line) {
      return FRAME.test(line);
    });
  }

  function frameLabel(line) {
    var match = FRAME.exec(line);
    var name = /^at\s+(?:async\s+)?([^\s(]+)\s+\(/.exec(line);
    return (name ? name[1] + " " : "") + "function.js:" + match[1] + ":" + match[2];
  }

  function renderStack(result) {
    var box = $("#fn-error-stack");
    if (!box || result.status === "success") return;
    var frames = userFrames((result.error || {}).stack);
    box.textContent = "";
    if (!frames.length) return;
    box.appendChild(el("span", { "class": "fn-stack-title" }, "Stack (your code):"));
    frames.forEach(function (line) {
      var match = FRAME.exec(line);
      var link = el("button", { type: "button", "class": "fn-frame", "data-line": match[1], "data-column": match[2] }, "at " + frameLabel(line));
      link.addEventListener("click", function () {
        var ed = fn.editor();
        if (!ed) return;
        ed.gotoLine(Number(match[1]), Math.max(0, Number(match[2]) - 1), true);
        ed.focus();
      });
      box.appendChild(link);
    });
  }
  document.addEventListener("fn:test-result", function (e) { renderStack(e.detail || {}); });

  whenEditor(function (ed) {
    setupTheme(ed);
    setupSplit(ed);
    setupKeys(ed);
    setupDirty(ed);
  });
})();
