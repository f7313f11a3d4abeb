/* The source debugger: a source's recent requests, live (polled every 2 s), with what became
   of each (the source function's run, the events, each event's outcome per destination).
   Two places: the debugger page (#fn-debugger-config) and the editor's test pane
   (#fn-debugger-pane), where a request or an event loads into the pane and re-runs against
   the code in the editor (the `fn:load-input` event, handled by catalog/editor.js).
   Text only (textContent): every value shown came from a sender. Server: runtime/debugger/. */
(function () {
  "use strict";
  var POLL_MS = 2000;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function pretty(value) { return JSON.stringify(value, null, 2); }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }
  function timeLabel(at) { var d = new Date(at); return isNaN(d) ? at : d.toLocaleTimeString(); }

  function statusLabel(s) {
    if (s.status >= 400) return { text: s.status + " " + (s.code || "refused"), cls: "fail" };
    if (s.run && s.run.status === "error") return { text: "error", cls: "fail" };
    if (s.run && s.run.status === "retrying") return { text: "retrying", cls: "warn" };
    if (s.kind === "webhook" && !s.run) return { text: "queued", cls: "quiet" };
    return { text: s.status + (s.dropped ? " · " + s.dropped + " dropped" : ""), cls: s.dropped ? "warn" : "ok" };
  }

  function outcomeBadges(counts) {
    var box = el("span", { "class": "fn-dbg-outcomes" });
    Object.keys(counts || {}).forEach(function (k) {
      if (counts[k]) box.appendChild(el("span", { "class": "fn-dbg-badge fn-dbg-" + k, title: k }, counts[k] + " " + k));
    });
    return box;
  }

  function bodyText(body) {
    if (typeof body !== "string") return pretty(body);
    if (/^\s*[{[]/.test(body)) { try { return pretty(JSON.parse(body)); } catch (e) { /* as sent */ } }
    return body || "(empty)";
  }

  // A recorded webhook request as the test pane's capture: headers by name, body parsed.
  function asCapture(request, at) {
    var headers = {};
    (request.payload.headers || []).forEach(function (h) { headers[h[0]] = h[1]; });
    var body = request.payload.body;
    var form = /x-www-form-urlencoded/i.test(JSON.stringify(headers));
    if (typeof body === "string" && form) {
      var parsed = {};
      new URLSearchParams(body).forEach(function (v, k) { parsed[k] = v; });
      body = parsed;
    } else if (typeof body === "string") {
      try { body = JSON.parse(body || "{}"); } catch (e) { /* the pane shows the text */ }
    }
    return { headers: headers, body: body, createdAt: at };
  }

  function handOver(detail) { document.dispatchEvent(new CustomEvent("fn:load-input", { detail: detail })); }

  function eventBlock(event, destinations, actions) {
    var box = el("div", { "class": "fn-dbg-event" });
    var head = el("div", { "class": "fn-dbg-event-head" });
    head.appendChild(el("strong", {}, (event.type || "?") + (event.name ? " · " + event.name : "")));
    head.appendChild(el("code", { "class": "fn-dbg-mid" }, event.messageId || ""));
    if (actions) actions(head, event);
    box.appendChild(head);
    var table = el("table", { "class": "fn-dbg-outcome-table" });
    var body = el("tbody");
    var byId = {};
    (event.outcomes || []).forEach(function (o) { byId[o.instance] = o; });
    var rows = destinations.map(function (d) { return byId[d.id] || { instance: d.id, name: d.name, outcome: "" }; });
    (event.outcomes || []).forEach(function (o) {
      if (!destinations.some(function (d) { return d.id === o.instance; })) rows.push(o);
    });
    rows.forEach(function (o) {
      var tr = el("tr", { "class": "fn-dbg-outcome", "data-outcome": o.outcome || "none" });
      tr.appendChild(el("td", {}, o.name));
      tr.appendChild(el("td", {}, o.outcome ? o.outcome + (o.attempt > 1 ? " (attempt " + o.attempt + ")" : "") : "no outcome yet"));
      tr.appendChild(el("td", { "class": "fn-dbg-reason" }, o.reason || ""));
      body.appendChild(tr);
    });
    if (!rows.length) body.appendChild(el("tr")).appendChild(el("td", { colspan: "3" }, "No destinations on this source."));
    table.appendChild(body);
    box.appendChild(table);
    var raw = el("details");
    raw.appendChild(el("summary", {}, "Event"));
    raw.appendChild(el("pre", { "class": "fn-dbg-pre" }, pretty(event.event)));
    box.appendChild(raw);
    return box;
  }

  function requestDetail(r, destinations, opts) {
    var box = el("div", { "class": "fn-dbg-detail" });
    var p = r.payload || {};
    box.appendChild(el("p", { "class": "fn-dbg-url" }, (p.method || "POST") + " " + (p.url || "")));
    if (r.error) box.appendChild(el("p", { "class": "fn-dbg-error" }, r.error));
    if (opts.requestActions && r.kind === "webhook") opts.requestActions(box, r);
    box.appendChild(el("h5", {}, "Headers"));
    if (p.headersHidden) {
      box.appendChild(el("p", { "class": "help" }, "Hidden: only those who may manage this source see its headers and URL."));
    } else {
      var table = el("table", { "class": "fn-dbg-headers" });
      var tbody = el("tbody");
      (p.headers || []).forEach(function (h) {
        var tr = el("tr"); tr.appendChild(el("th", {}, h[0])); tr.appendChild(el("td", {}, h[1])); tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      box.appendChild(table);
    }
    if (r.kind === "webhook") {
      box.appendChild(el("h5", {}, "Body" + (r.truncated ? " (cut at the kept size)" : "")));
      box.appendChild(el("pre", { "class": "fn-dbg-pre fn-dbg-body" }, bodyText(p.body)));
      box.appendChild(el("h5", {}, "Source function"));
      var run = r.run;
      if (!run) box.appendChild(el("p", { "class": "help" }, r.status >= 400 ? "Refused before the function ran." : "Queued: not run yet."));
      else {
        box.appendChild(el("p", { "class": "fn-dbg-run fn-dbg-run-" + run.status },
          run.status + " · attempt " + run.attempt + " · " + run.emitted + " emitted" + (run.emitted > run.events.length ? " (" + (run.emitted - run.events.length) + " rejected: see the instance's Errors)" : "")));
        if (run.error) box.appendChild(el("pre", { "class": "fn-dbg-pre fn-dbg-error" }, (run.error.type ? run.error.type + ": " : "") + run.error.message + (run.error.stack ? "\n" + run.error.stack : "")));
        if ((run.logs || []).length) box.appendChild(el("pre", { "class": "fn-dbg-pre" }, run.logs.map(function (l) { return typeof l === "string" ? l : "[" + l.level + "] " + l.message; }).join("\n")));
      }
    } else if ((r.dropped || []).length) {
      box.appendChild(el("h5", {}, "Dropped messages"));
      var ul = el("ul");
      r.dropped.forEach(function (d) { ul.appendChild(el("li", {}, "#" + d.index + " " + d.code + ": " + d.message)); });
      box.appendChild(ul);
    }
    box.appendChild(el("h5", {}, "Events (" + (r.events || []).length + ")"));
    (r.events || []).forEach(function (e) { box.appendChild(eventBlock(e, destinations, opts.eventActions)); });
    if (!(r.events || []).length) box.appendChild(el("p", { "class": "help" }, "No events."));
    return box;
  }

  // The live list of one source's requests inside `root`; `opts` adds the editor's buttons.
  function Debugger(root, dataUrl, opts) {
    var list = el("div", { "class": "fn-dbg-list", id: opts.listId || "fn-dbg-list" });
    var status = el("p", { "class": "help fn-dbg-status" }, "Loading…");
    root.appendChild(status);
    root.appendChild(list);
    var open = null, lastList = "", lastDetail = "", destinations = [], timer = null, stopped = false;

    function renderDetail(container, id) {
      getJSON(dataUrl + "?request=" + encodeURIComponent(id)).then(function (data) {
        var text = JSON.stringify(data.request);
        if (open !== id || (text === lastDetail && container.firstChild)) return;
        lastDetail = text;
        container.textContent = "";
        container.appendChild(requestDetail(data.request, destinations, opts));
      }).catch(function (e) { container.textContent = "Could not load this request: " + e.message; });
    }

    function row(s) {
      var item = el("div", { "class": "fn-dbg-row" + (open === s.id ? " fn-dbg-open" : ""), "data-id": s.id, "data-kind": s.kind });
      var head = el("button", { type: "button", "class": "fn-dbg-row-head", "aria-expanded": String(open === s.id) });
      var st = statusLabel(s);
      head.appendChild(el("time", { datetime: s.at }, timeLabel(s.at)));
      head.appendChild(el("span", { "class": "fn-dbg-call" }, s.call));
      head.appendChild(el("span", { "class": "fn-dbg-state fn-dbg-" + st.cls }, st.text));
      head.appendChild(el("span", { "class": "fn-dbg-count" }, s.eventCount + " event" + (s.eventCount === 1 ? "" : "s")));
      head.appendChild(outcomeBadges(s.outcomes));
      head.appendChild(el("span", { "class": "fn-dbg-preview" }, s.preview));
      item.appendChild(head);
      var detail = el("div", { "class": "fn-dbg-detail-box" });
      item.appendChild(detail);
      head.addEventListener("click", function () {
        open = open === s.id ? null : s.id;
        lastDetail = "";
        Array.prototype.forEach.call(list.children, function (c) {
          var mine = c.dataset.id === open;
          c.classList.toggle("fn-dbg-open", mine);
          $(".fn-dbg-row-head", c).setAttribute("aria-expanded", String(mine));
          if (!mine) $(".fn-dbg-detail-box", c).textContent = "";
        });
        if (open) renderDetail(detail, open);
      });
      if (open === s.id) renderDetail(detail, s.id);
      return item;
    }

    function poll() {
      getJSON(dataUrl).then(function (data) {
        if (stopped) return;
        destinations = data.destinations || [];
        var c = data.counts || {};
        ["requests", "events", "errors"].forEach(function (k) {  // the page's counters, kept live
          var n = document.querySelector("#fn-traffic-" + k + " strong");
          if (n && c[k] !== undefined) n.textContent = String(c[k]);
        });
        status.textContent = "Last " + data.requests.length + " of the requests kept (up to " + data.keep + "), newest first · 7 days: " +
          c.requests + " requests, " + c.events + " events, " + c.errors + " errors";
        var text = JSON.stringify(data.requests);
        if (text !== lastList) {
          lastList = text;
          list.textContent = "";
          data.requests.forEach(function (s) { list.appendChild(row(s)); });
          if (!data.requests.length) list.appendChild(el("p", { "class": "help fn-dbg-empty" }, opts.empty || "No requests yet."));
        } else if (open) {
          var current = list.querySelector(".fn-dbg-open .fn-dbg-detail-box");
          if (current) renderDetail(current, open);
        }
      }).catch(function (e) {
        status.textContent = "Could not load the debugger: " + e.message + " (retrying)";
      }).then(function () { if (!stopped) timer = setTimeout(poll, POLL_MS); });
    }
    poll();
    return {
      stop: function () { stopped = true; clearTimeout(timer); root.textContent = ""; },
      open: function (id) { open = id; lastList = ""; }
    };
  }

  // ---- the debugger page ------------------------------------------------------------------
  var pageConfig = document.getElementById("fn-debugger-config");
  if (pageConfig) {
    var config = JSON.parse(pageConfig.textContent);
    var opts = { empty: "No requests yet. Send one to this source's endpoint; it appears here within seconds." };
    if (config.editorUrl) {
      opts.requestActions = function (box, r) {
        var link = el("a", { "class": "button fn-dbg-open-editor", href: config.editorUrl + "?fn_debug_source=" + config.sourceId + "&fn_debug_request=" + encodeURIComponent(r.id) }, "Open in the editor's test pane");
        box.appendChild(link);
      };
    }
    Debugger($("#fn-debugger"), config.data, opts);
  }

  // ---- the editor's test pane -------------------------------------------------------------
  var pane = document.getElementById("fn-debugger-pane");
  if (!pane) return;
  var select = $("#fn-debugger-source", pane);
  var mount = $("#fn-debugger-mount", pane);
  var note = $("#fn-debugger-note", pane);
  var isSource = pane.dataset.type === "SOURCE";
  var current = null, sources = [];
  var params = new URLSearchParams(location.search);

  function buttons(container, load) {
    var wrap = el("span", { "class": "fn-dbg-actions" });
    var l = el("button", { type: "button", "class": "button fn-dbg-load" }, "Load into test pane");
    var r = el("button", { type: "button", "class": "button fn-dbg-rerun" }, "Re-run with editor code");
    l.addEventListener("click", function (e) { e.stopPropagation(); load(false); note.textContent = "Loaded into the test pane."; });
    r.addEventListener("click", function (e) { e.stopPropagation(); load(true); note.textContent = "Re-running with the code in the editor (saved or not)…"; });
    wrap.appendChild(l); wrap.appendChild(r);
    container.appendChild(wrap);
  }
  var editorOpts = { listId: "fn-debugger-list", empty: "No requests from this source yet." };
  if (isSource) {
    editorOpts.requestActions = function (box, r) {
      buttons(box, function (run) { handOver({ request: asCapture(r, r.at), run: run }); });
    };
  } else {
    editorOpts.eventActions = function (head, event) {
      buttons(head, function (run) { handOver({ event: event.event, run: run }); });
    };
  }

  function choose(id) {
    if (current) current.stop();
    current = null;
    var s = sources.filter(function (x) { return String(x.id) === String(id); })[0];
    if (!s) return null;
    current = Debugger(mount, s.data, editorOpts);
    return s;
  }

  getJSON(pane.dataset.sourcesUrl).then(function (data) {
    sources = (data.sources || []).filter(function (s) { return !isSource || s.kind === "FUNCTION"; });
    sources.forEach(function (s) { select.appendChild(el("option", { value: String(s.id) }, s.name + (s.own ? " (this function's)" : ""))); });
    if (!sources.length) { note.textContent = "No source you can read sends to this function yet."; return; }
    var wanted = params.get("fn_debug_source");
    var first = sources.filter(function (s) { return String(s.id) === wanted; })[0] || sources.filter(function (s) { return s.own; })[0];
    if (first) { select.value = String(first.id); choose(first.id); }
    var rid = params.get("fn_debug_request");
    if (first && rid && String(first.id) === wanted) {
      getJSON(first.data + "?request=" + encodeURIComponent(rid)).then(function (d) {
        if (d.request.kind === "webhook") handOver({ request: asCapture(d.request, d.request.at), run: false });
        note.textContent = "The request of " + timeLabel(d.request.at) + " is in the test pane.";
      }).catch(function () { note.textContent = "That request is no longer kept."; });
    }
  }).catch(function (e) { note.textContent = "Could not list sources: " + e.message; });
  select.addEventListener("change", function () { choose(select.value); });
  var rerunning = false;
  document.addEventListener("fn:load-input", function (e) { rerunning = !!(e.detail && e.detail.run); });
  document.addEventListener("fn:test-result", function (e) {
    if (!rerunning) return;
    rerunning = false;
    var ok = e.detail && e.detail.status === "success";
    note.textContent = "Re-run finished: " + (ok ? "success" : "error") + " (the output is above).";
    var out = document.getElementById("fn-status");
    if (out && out.scrollIntoView) out.scrollIntoView({ block: "center" });
  });
})();
