/* The editor's dry-run replay: start it with the editor's code, follow its progress, show the
   summary and each event's differences. Text only (no HTML from data). Server side:
   runtime/replay/admin.py. */
(function () {
  "use strict";
  var $ = function (sel) { return document.querySelector(sel); };
  var configNode = document.getElementById("fn-replay-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var latest = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function code() {
    var widget = $(".django-ace-widget");
    if (widget && widget.editor) return widget.editor.getValue();
    var area = $("textarea[name=code]");
    return area ? area.value : "";
  }

  function csrf() {
    var input = $("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showError(text) {
    var box = $("#fn-replay-error");
    box.textContent = text;
    box.hidden = !text;
  }

  function errorsText(errors) {
    return Object.keys(errors || {}).map(function (k) {
      return (k ? k + ": " : "") + [].concat(errors[k]).join(" ");
    }).join("; ");
  }

  function diffBlock(entry) {
    var cell = el("td", { colspan: "6", "class": "fn-replay-diff" });
    (entry.differs || []).forEach(function (aspect) {
      cell.appendChild(el("h4", {}, aspect));
      var pre = el("pre");
      (entry.diffs[aspect] || "").split("\n").forEach(function (line) {
        var kind = line.charAt(0) === "+" ? "fn-diff-add" : line.charAt(0) === "-" ? "fn-diff-del" : "";
        pre.appendChild(el("span", kind ? { "class": kind } : {}, line + "\n"));
      });
      cell.appendChild(pre);
    });
    if (entry.draft && entry.draft.error) cell.appendChild(el("p", {}, "Draft error: " + entry.draft.error.type + ": " + entry.draft.error.message));
    return cell;
  }

  function renderResults(replay) {
    var table = $("#fn-replay-results");
    var body = table.querySelector("tbody");
    body.textContent = "";
    var onlyDifferent = $("#fn-replay-only-different").checked;
    (replay.results || []).forEach(function (entry, index) {
      if (onlyDifferent && (entry.verdict === "identical" || entry.verdict === "skipped")) return;
      var row = el("tr", { "class": "fn-replay-row", "data-verdict": entry.verdict });
      row.appendChild(el("td", {}, index + 1));
      row.appendChild(el("td", {}, (entry.type || "") + (entry.name ? " " + entry.name : "") + (entry.messageId ? " · " + entry.messageId : "")));
      row.appendChild(el("td", {}, entry.instanceId + " (v" + entry.deployedVersion + ")"));
      var verdict = el("td");
      verdict.appendChild(el("span", { "class": "fn-verdict fn-verdict-" + entry.verdict }, entry.verdict.replace("_", " ")));
      row.appendChild(verdict);
      row.appendChild(el("td", {}, (entry.differs || []).join(", ") || "-"));
      var actions = el("td");
      if ((entry.differs || []).length) {
        var button = el("button", { type: "button", "class": "button fn-replay-diff-toggle" }, "Diff");
        var detail = el("tr", { "class": "fn-replay-diff-row", hidden: "" });
        detail.appendChild(diffBlock(entry));
        button.addEventListener("click", function () { detail.hidden = !detail.hidden; });
        actions.appendChild(button);
        row.appendChild(actions);
        body.appendChild(row);
        body.appendChild(detail);
        return;
      }
      row.appendChild(actions);
      body.appendChild(row);
    });
    table.hidden = false;
    $("#fn-replay-filter-label").hidden = false;
  }

  function render(replay) {
    latest = replay;
    $("#fn-replay-progress").hidden = false;
    var bar = $("#fn-replay-bar");
    bar.max = Math.max(replay.total, 1);
    bar.value = replay.done;
    $("#fn-replay-status").textContent = replay.status + " · " + replay.done + " / " + replay.total + " events";
    if (replay.status === "FAILED") showError("The replay failed: " + replay.error);
    if (replay.status === "DONE") {
      var summary = $("#fn-replay-summary");
      summary.textContent = replay.total ? replay.summary.text : "No recent events to replay yet.";
      summary.hidden = false;
      renderResults(replay);
    }
  }

  function poll(id) {
    fetch(config.statusUrl + "?replay=" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        render(data.replay);
        if (data.replay.status === "PENDING" || data.replay.status === "RUNNING") setTimeout(function () { poll(id); }, 1000);
        else $("#fn-replay-start").disabled = false;
      })
      .catch(function () { setTimeout(function () { poll(id); }, 3000); });
  }

  function start() {
    showError("");
    var answers = null;
    var raw = $("#fn-replay-answers").value.trim();
    if (raw) {
      try { answers = JSON.parse(raw); } catch (e) { showError("Scripted responses: not valid JSON."); return; }
    }
    $("#fn-replay-summary").hidden = true;
    $("#fn-replay-results").hidden = true;
    $("#fn-replay-start").disabled = true;
    fetch(config.startUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ code: code(), count: parseInt($("#fn-replay-count").value, 10) || 100, answers: answers }),
    })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (answer) {
        if (!answer.ok) { showError(errorsText(answer.data.errors) || "Refused."); $("#fn-replay-start").disabled = false; return; }
        // The answer carries no per-event results: the status feed does (even when already done).
        poll(answer.data.replay.id);
      })
      .catch(function (e) { showError("Could not start the replay: " + e.message); $("#fn-replay-start").disabled = false; });
  }

  $("#fn-replay-start").addEventListener("click", start);
  $("#fn-replay-only-different").addEventListener("change", function () { if (latest) renderResults(latest); });
})();
