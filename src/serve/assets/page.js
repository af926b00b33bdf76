// ghr serve: keeps the page live. The server renders every table; this only swaps in the
// fresh HTML when the server says something changed (server-sent events, or a 2 s poll when
// they are not available), ticks the "for how long" clocks, and sends holds and releases.
(function () {
  "use strict";
  var token = new URLSearchParams(location.search).get("token");
  function url(path) {
    return token ? path + (path.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(token) : path;
  }
  function headers(extra) {
    var h = extra || {};
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }
  var live = document.getElementById("live");
  var conn = document.getElementById("conn");
  function state(ok, text) {
    conn.textContent = text;
    conn.className = ok ? "" : "off";
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + two(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h" + two(Math.floor(s % 3600 / 60)) + "m";
    return Math.floor(s / 86400) + "d" + two(Math.floor(s % 86400 / 3600)) + "h";
  }
  function tick() {
    var now = Date.now() / 1000;
    var els = document.querySelectorAll("[data-since]");
    for (var i = 0; i < els.length; i++) els[i].textContent = fmt(now - Number(els[i].getAttribute("data-since")));
  }
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(url("/fragment"), { cache: "no-store", headers: headers() })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) { live.innerHTML = html; tick(); state(true, "live"); })
      .catch(function (e) { state(false, "disconnected (" + e.message + "); retrying"); })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  setInterval(tick, 1000);
  var poll = null;
  function polling() { if (!poll) poll = setInterval(refresh, 2000); }
  if (window.EventSource) {
    var es = new EventSource(url("/events"));
    es.onmessage = function () { refresh(); };
    es.onopen = function () { state(true, "live"); if (poll) { clearInterval(poll); poll = null; } };
    es.onerror = function () { state(false, "reconnecting"); polling(); };
  } else {
    polling();
  }
  var form = document.getElementById("hold");
  var msg = document.getElementById("holdmsg");
  function say(text) { if (msg) msg.textContent = text; }
  function send(method, path, body) {
    return fetch(url(path), {
      method: method,
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { say(j.message || j.error || ("HTTP " + r.status)); refresh(); });
    }).catch(function (e) { say("failed: " + e.message); });
  }
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = new FormData(form);
      var body = { resource: f.get("resource"), user: f.get("user"), reason: f.get("reason") };
      if (f.get("for")) body["for"] = f.get("for");
      say("asking for " + body.resource + "...");
      send("POST", "/api/v1/holds", body);
    });
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("[data-release]") : null;
    if (!b) return;
    var user = form ? new FormData(form).get("user") : "";
    if (!user) { say("give your name in the hold form first"); return; }
    var r = b.getAttribute("data-release");
    send("DELETE", "/api/v1/holds/" + encodeURIComponent(r), { user: user });
  });
})();
