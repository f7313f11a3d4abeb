/* The request inspector: the live list on its admin page, and in the editor's test pane what a
   run's fetches sent to it. Text only (textContent): every value shown came from a sender.
   The server side is runtime/inspector/. */
(function () {
  "use strict";
  var $ = function (sel, root) { return (root || document).querySelector(sel); };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function headerValue(headers, name) {
    var found = (headers || []).filter(function (h) { return String(h[0]).toLowerCase() === name; })[0];
    return found ? found[1] : "";
  }

  function bodyText(r) {
    if (!r.body) return "(no body)";
    if (r.bodyBase64 || r.bodyEnc === "base64") return "(binary body, base64)\n" + r.body;
    if (/json/i.test(headerValue(r.headers, "content-type")) || /^[{[]/.test(r.body)) {
      try { return JSON.stringify(JSON.parse(r.body), null, 2); } catch (e) { /* shown as sent */ }
    }
    return r.body;
  }

  function sizeLabel(n) {
    if (n === undefined || n === null) return "";
    return n < 1024 ? n + " B" : (n / 1024).toFixed(1) + " KiB";
  }

  function pathOf(r) {
    if (r.path) return r.path;
    var marker = "/inspect/";
    var at = String(r.url || "").indexOf(marker);
    if (at < 0) return r.url || "";
    var rest = r.url.slice(at + marker.length);
    var slash = rest.indexOf("/");
    return slash < 0 ? "/" : rest.slice(slash);
  }

  // One request as a <details>: method, path, who sent it, size and time; then headers and body.
  function renderRequest(r) {
    var item = el("details", { "class": "fn-inspected", "data-id": String(r.id || "") });
    var summary = el("summary");
    summary.appendChild(el("span", { "class": "fn-method fn-method-" + String(r.method || "GET").toLowerCase() }, r.method || "GET"));
    summary.appendChild(el("code", { "class": "fn-inspected-path" }, pathOf(r)));
    var who = r.instance ? r.instance.name : (r.senderLabel || "");
    if (who) summary.appendChild(el("span", { "class": "fn-inspected-sender" }, who));
    summary.appendChild(el("span", { "class": "fn-inspected-size" }, sizeLabel(r.size)));
    if (r.at) summary.appendChild(el("time", { datetime: r.at, "class": "fn-inspected-time" }, new Date(r.at).toLocaleString()));
    item.appendChild(summary);
    var detail = el("div", { "class": "fn-inspected-detail" });
    detail.appendChild(el("p", { "class": "fn-inspected-url" }, (r.method || "GET") + " " + (r.url || "")));
    var table = el("table", { "class": "fn-inspected-headers" });
    var body = el("tbody");
    (r.headers || []).forEach(function (h) {
      var row = el("tr");
      row.appendChild(el("th", {}, h[0]));
      row.appendChild(el("td", {}, h[1]));
      body.appendChild(row);
    });
    table.appendChild(body);
    detail.appendChild(el("h5", {}, "Headers"));
    detail.appendChild(table);
    detail.appendChild(el("h5", {}, "Body" + (r.truncated ? " (first 64 KiB of " + sizeLabel(r.size) + ")" : "")));
    detail.appendChild(el("pre", { "class": "fn-inspected-body" }, bodyText(r)));
    item.appendChild(detail);
    return item;
  }

  // ---- admin page: the list, kept live -------------------------------------------------
  var configNode = document.getElementById("fn-inspector-config");
  if (configNode) {
    var config = JSON.parse(configNode.textContent);
    var list = $("#fn-inspector-list");
    var newest = 0;
    var show = function (rows, fresh) {
      rows.slice().reverse().forEach(function (r) {
        var item = renderRequest(r);
        if (fresh) item.classList.add("fn-fresh");
        list.insertBefore(item, list.firstChild);
        newest = Math.max(newest, r.id);
      });
      while (list.children.length > 100) list.removeChild(list.lastChild);
      $("#fn-inspector-empty").hidden = list.children.length > 0;
    };
    show(config.requests || [], false);
    var live = $("#fn-inspector-live");
    var poll = function () {
      fetch(config.requestsUrl + "?after=" + newest, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (data) { show(data.requests || [], true); live.classList.remove("fn-live-off"); live.textContent = "live"; })
        .catch(function () { live.classList.add("fn-live-off"); live.textContent = "reconnecting…"; })
        .then(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 2000);
    Array.prototype.forEach.call(document.querySelectorAll(".fn-copy-btn"), function (button) {
      button.addEventListener("click", function () {
        var text = document.querySelector(button.dataset.copy).textContent;
        if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
        button.textContent = "Copied";
      });
    });
  }

  // ---- the editor's test pane: what this run's fetches sent ------------------------------
  document.addEventListener("fn:test-result", function (e) {
    var box = $("#fn-captured-box");
    if (!box) return;
    var captured = (e.detail && e.detail.captured) || [];
    var target = $("#fn-captured");
    target.textContent = "";
    captured.forEach(function (c) {
      var item = renderRequest(c);
      if (!c.kept) item.appendChild(el("p", { "class": "fn-inspected-warning" }, "No workspace has this inspector URL: answered, but kept nowhere."));
      target.appendChild(item);
    });
    if (captured.length === 1) target.firstChild.open = true;
    box.hidden = !captured.length;
  });
})();
