// The console page: sign-in, then the views the signed-in role may see.
const $ = id => document.getElementById(id);
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";");
const locale = () => (lang === "zh" ? "zh-CN" : "en-GB");
let siteZone;  // times are shown on the site's clock, whatever the tablet's zone
const hms = ms => new Date(ms).toLocaleTimeString(locale(), {hour12: false, timeZone: siteZone});
const dhm = ms => new Date(ms).toLocaleString(locale(), {hour12: false, timeZone: siteZone});
const OUTCOMES = ["let_in_after_check", "turned_away", "sent_to_health_desk", "left_before_check", "kiosk_fixed", "false_alarm", "other"];
const COLOURS = {green: "#1aa34a", yellow: "#f2b01e", red: "#d9363e", unknown: "#8a8f98", offline: "#4e5969"};
let me = null, feed = null, openAlerts = new Map(), acked = [], entries = [], view = null, timers = [];

async function api(path, opts = {}) {
  const headers = {"Content-Type": "application/json"};
  if (me) headers["X-CSRF-Token"] = me.csrf;
  const r = await fetch(path, {credentials: "same-origin", ...opts, headers: {...headers, ...(opts.headers || {})}});
  if (r.status === 401 && path !== "/api/sign-in") { showSignIn(); throw new Error("signed out"); }
  if (!r.ok) throw new Error((await r.text()) || r.status);
  return (r.headers.get("content-type") || "").includes("json") ? r.json() : r.text();
}
const post = (path, body) => api(path, {method: "POST", body: JSON.stringify(body)});
const can = p => me && me.permissions.includes(p);

function showSignIn() {
  me = null; stopAll();
  $("app").hidden = true; $("signin").hidden = false; $("signout").hidden = true; $("who").textContent = "";
  $("alarm").className = "";
}
async function boot() {
  try { siteZone = (await (await fetch("/api/summary")).json()).timezone; } catch { /* browser's zone */ }
  try { me = await (await fetch("/api/me")).json(); if (!me.user) throw 0; } catch { return showSignIn(); }
  start();
}
function start() {
  $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
  $("who").textContent = `${me.user} · ${t("role_" + me.role)}`;
  document.querySelectorAll("#tabs button").forEach(b => { b.hidden = !can(b.dataset.perm); });
  const first = [...document.querySelectorAll("#tabs button")].find(b => !b.hidden);
  if (can("live")) { connectFeed(); loadAlerts(); }
  show(first.dataset.view);
}
function stopAll() {
  if (feed) { feed.close(); feed = null; }
  timers.forEach(clearInterval); timers = []; openAlerts.clear();
}
function show(name) {
  view = name;
  document.querySelectorAll("#tabs button").forEach(b => b.classList.toggle("active", b.dataset.view === name));
  document.querySelectorAll("section.view").forEach(s => s.classList.toggle("active", s.id === "view-" + name));
  ({live: loadLive, alerts: renderAlerts, kiosks: loadKiosks, counts: loadCounts, report: loadReport, audit: loadAudit, trace: () => {}})[name]();
}

// --- live entries and alerts -------------------------------------------------------------
async function loadLive() {
  entries = await api("/api/entries?limit=50"); renderEntries(); loadStats();
}
async function loadStats() {
  const s = await api("/api/summary");
  $("stats").innerHTML = ["green", "yellow", "red", "unknown"].map(k =>
    `<span><span class="dot ${k}"></span>${t(k)} ${s.counts[k] || 0}</span>`).join("") +
    `<span>${t("tab_kiosks")} ${s.kiosks_online}/${s.kiosks_total}</span>`;
  $("clock").textContent = hms(s.now_ms);
}
function entryRow(e, fresh) {
  const colour = e.colour || "unknown";
  return `<tr data-id="${esc(e.id)}" class="${fresh ? "fresh" : ""}"><td>${hms(e.ts)}</td><td>${esc(e.door)}</td>
    <td>${esc(t(e.method))}${e.medium ? ` <span class="muted">${esc(t(e.medium))}</span>` : ""}</td>
    <td>${esc(e.masked_name ? e.masked_name + " " + e.masked : e.masked)}</td>
    <td><span class="dot ${esc(colour)}"></span>${esc(t(colour))}</td><td>${esc(t(e.decided))}</td></tr>`;
}
function renderEntries(freshId) {
  const filter = $("door-filter"), door = filter.value;
  const doors = [...new Set(entries.map(e => e.door))].sort();
  const known = [...filter.options].map(o => o.value).filter(Boolean);
  if (doors.join() !== known.join()) {
    filter.innerHTML = `<option value="">${t("all_doors")}</option>` +
      doors.map(d => `<option value="${esc(d)}">${esc(d)}</option>`).join("");
    filter.value = doors.includes(door) ? door : "";
  }
  filter.options[0].textContent = t("all_doors");
  $("entries").innerHTML = entries.filter(e => !filter.value || e.door === filter.value)
    .map(e => entryRow(e, e.id === freshId)).join("");
}
$("door-filter").addEventListener("change", () => renderEntries());
function connectFeed() {
  feed = new EventSource("/api/live");
  feed.addEventListener("entry", m => {
    const e = JSON.parse(m.data);
    entries = [e, ...entries.filter(x => x.id !== e.id)].slice(0, 100);
    if (view === "live") { renderEntries(e.id); loadStats(); }
  });
  feed.addEventListener("alert", m => { const a = JSON.parse(m.data); openAlerts.set(a.n, a); alertsChanged(); });
  feed.addEventListener("ack", m => { const a = JSON.parse(m.data); const o = openAlerts.get(a.n);
    openAlerts.delete(a.n); if (o) acked.unshift({...o, ...a}); alertsChanged(); });
  // (Re)connected: fetch what may have happened while the feed was down.
  feed.addEventListener("hello", () => { $("clock").title = t("live_on"); loadAlerts(); if (view === "live") loadLive(); });
  feed.onerror = () => { $("clock").title = t("live_off"); };
  timers.push(setInterval(beep, 4000));
  timers.push(setInterval(() => { if (view === "kiosks") loadKiosks(); else if (view === "live") loadStats(); }, 3000));
}
async function loadAlerts() {
  const [open, all] = await Promise.all([api("/api/alerts?open=true"), api("/api/alerts?open=false")]);
  openAlerts = new Map(open.map(a => [a.n, a]));
  acked = all.filter(a => a.acked_ms).slice(0, 30);
  alertsChanged();
}
function alertsChanged() {
  const n = openAlerts.size;
  $("alert-badge").hidden = n === 0; $("alert-badge").textContent = n;
  $("alarm").className = n ? "on" : ""; $("alarm").textContent = n ? t("alarm", {n}) : "";
  if (view === "alerts") renderAlerts();
}
function alertWhat(a) {
  if (a.kind === "kiosk_offline") return `${t("alert_kiosk_offline")} ${esc(a.kiosk)}`;
  if (a.kind === "misuse") return `${t("alert_misuse_" + a.action) || t("alert_misuse")} · ${esc(a.door)}`;
  return `<span class="dot ${esc(a.colour || "unknown")}"></span>${esc(t(a.colour || "unknown"))} · ${t("alert_entry")}`;
}
function renderAlerts() {
  const options = OUTCOMES.map(o => `<option value="${o}">${t(o === "other" ? "other_outcome" : o)}</option>`).join("");
  $("alerts").innerHTML = [...openAlerts.values()].sort((a, b) => b.n - a.n).map(a =>
    `<tr class="alert-row" data-alert="${a.n}"><td>${hms(a.ts)}</td><td>${alertWhat(a)}</td><td>${esc(a.door || a.kiosk)}</td>
     <td>${esc(a.masked || "")}</td><td><select>${a.kind === "kiosk_offline" ? options.replace('value="kiosk_fixed"', 'value="kiosk_fixed" selected') : options}</select>
     <input class="note" placeholder="${t("note")}" maxlength="500"> <button class="btn primary ack">${t("ack")}</button></td></tr>`).join("");
  $("acked").innerHTML = acked.map(a => `<tr><td>${hms(a.ts)}</td><td>${alertWhat(a)}</td><td>${esc(a.door || a.kiosk)}</td>
     <td>${esc(t(a.outcome === "other" ? "other_outcome" : a.outcome))} ${esc(a.note || "")}</td><td>${esc(a.acked_by)} ${hms(a.acked_ms)}</td></tr>`).join("");
}
$("alerts").addEventListener("click", async ev => {
  if (!ev.target.classList.contains("ack")) return;
  const row = ev.target.closest("tr"), n = Number(row.dataset.alert);
  ev.target.disabled = true;
  try {
    await post(`/api/alerts/${n}/ack`, {outcome: row.querySelector("select").value, note: row.querySelector(".note").value});
  } catch (err) { ev.target.disabled = false; alert(err.message); }
});
let audio = null;
function beep() {
  if (!openAlerts.size) return;
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.15;
    osc.connect(gain).connect(audio.destination); osc.start(); osc.stop(audio.currentTime + 0.25);
  } catch { /* no sound device: the banner still flashes */ }
}

// --- kiosks -------------------------------------------------------------------------------
function part(health, name) {
  const v = health[name];
  if (v === undefined) return `<span class="muted">—</span>`;
  return v === "ok" ? `<span class="online">${t("ok")}</span>` : `<span class="fault">${esc(v)}</span>`;
}
function offset(k) {  // reported offset if any, else the estimate from the last live scan
  if (k.clock_offset_ms != null) return `${esc(k.clock_offset_ms)} ms`;
  if (k.clock_offset_estimate_ms == null) return `<span class="muted">—</span>`;
  const v = k.clock_offset_estimate_ms, bad = Math.abs(v) > 2000;
  return `<span class="${bad ? "fault" : ""}" title="${t("offset_estimate")}">≈ ${v > 0 ? "+" : ""}${esc(v)} ms</span>`;
}
function ageOf(ms) {  // how long ago, in seconds, or a dash
  return ms == null ? `<span class="muted">—</span>` : `${Math.max(0, Math.round((Date.now() - ms) / 1000))} ${t("seconds_ago")}`;
}
function trustList(k) {
  const tl = k.lists && k.lists.trust_list;
  if (!tl || tl.version == null) return `<span class="muted">—</span>`;
  return `${t("version")}${esc(tl.version)} · ${t("age")}${esc(tl.age_s)} ${t("seconds_ago")}`;
}
async function loadKiosks() {
  const rows = await api("/api/kiosks");
  $("kiosks").innerHTML = rows.map(k => `<tr data-kiosk="${esc(k.kiosk)}"><td>${esc(k.kiosk)}</td>
    <td class="${esc(k.state)}">${t(k.state)}</td><td>${hms(k.last_seen_ms)}</td><td>${esc(k.outbox ?? "—")}</td>
    <td>${part(k.health, "camera")}</td><td>${part(k.health, "reader")}</td><td>${part(k.health, "board")}</td>
    <td>${esc(k.sw || "—")}</td><td>${offset(k)}</td><td>${ageOf(k.oldest_ms)}</td>
    <td class="${k.missing ? "fault" : ""}">${esc(k.missing ?? "—")}</td><td>${trustList(k)}</td></tr>`).join("");
}

// --- counts ---------------------------------------------------------------------------------
const pct = c => (c == null ? "—" : (c * 100).toFixed(1) + " %");
async function loadCounts(day) {
  const q = day ? `?day=${day}` : "";
  const [d, days] = await Promise.all([api("/api/counts" + q), api("/api/counts/days?days=14")]);
  $("counts-form").day.value = d.day;
  const hours = d.doors[0] ? d.doors[0].hours.map(h => String(h.hour)) : [...Array(24).keys()].map(String);
  const colours = ["green", "yellow", "red", "unknown", "offline"];
  barChart($("hour-chart"), hours, colours.map(c => ({name: t(c), colour: COLOURS[c],
    values: hours.map((_, i) => d.doors.reduce((s, door) => s + (door.hours[i].by_colour[c] || 0), 0))})));
  $("door-counts").innerHTML = d.doors.map(x => `<tr><td>${esc(x.door)}</td><td>${x.checked}</td>
    <td>${x.people ?? "—"}</td><td class="coverage">${pct(x.coverage)}</td></tr>`).join("");
  const doors = [...new Set(days.flatMap(x => Object.keys(x.doors)))].sort();
  const palette = ["#1664ff", "#14c9c9", "#f7ba1e", "#722ed1", "#f53f3f", "#3491fa", "#00b42a", "#ff7d00"];
  barChart($("day-chart"), days.map(x => x.day.slice(5)), doors.map((door, i) => ({name: door,
    colour: palette[i % palette.length], values: days.map(x => x.doors[door] || 0)})));
}
$("counts-form").addEventListener("submit", ev => { ev.preventDefault(); loadCounts(ev.target.day.value); });

// --- daily report ------------------------------------------------------------------------------
async function loadReport(day) {
  const r = await api("/api/report" + (day ? `?day=${day}` : ""));
  $("report-form").day.value = r.report.date;
  $("report-schedule").textContent = t("schedule", {deadline: r.schedule.deadline, lead: r.schedule.lead_minutes});
  $("report-rows").innerHTML = r.report.doors.map(x => `<tr><td>${esc(x.door)}</td><td>${x.scans}</td><td>${x.green}</td>
    <td>${x.yellow}</td><td>${x.red}</td><td>${x.unknown}</td><td>${x.offline}</td></tr>`).join("") +
    `<tr><th>Σ</th><th>${r.report.total}</th></tr>`;
  $("report-attempts").innerHTML = r.attempts.map(a => `<tr><td>${dhm(a.at_ms)}</td><td>${a.day}</td>
    <td>${esc(a.trigger === "automatic" ? t("automatic") : a.trigger)}</td>
    <td class="${a.ok ? "ok-text" : "bad-text"}">${a.ok ? t("delivered") : t("failed")} (${esc(a.status)})</td><td>${a.total}</td></tr>`).join("");
}
$("report-form").addEventListener("submit", ev => { ev.preventDefault(); loadReport(ev.target.day.value); });
$("report-send").onclick = async () => { await post("/api/report/send", {day: $("report-form").day.value || null}); loadReport($("report-form").day.value); };
$("report-csv").onclick = () => { location.href = "/api/report.csv?day=" + ($("report-form").day.value || ""); };

// --- tracing -----------------------------------------------------------------------------------
const ms = v => new Date(v).getTime();
function traceBody(f, format) {
  return {kind: f.kind.value, value: f.value.value, from_ms: ms(f.from.value), to_ms: ms(f.to.value),
          window_minutes: Number(f.window.value) || null, format};
}
function doorBody(f, format) { return {door: f.door.value, from_ms: ms(f.from.value), to_ms: ms(f.to.value), format}; }
const who = s => esc(s.masked_name ? s.masked_name + " " + s.masked : s.masked);
$("trace-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const r = await post("/api/trace/person", traceBody(ev.target, "json"));
  $("trace-summary").textContent = t("trace_found", {v: r.visits.length, c: r.contacts.length, p: r.people, ms: r.took_ms});
  $("trace-visits").innerHTML = r.visits.map(v => `<tr><td>${dhm(v.ts)}</td><td>${esc(v.door)}</td><td>${esc(t(v.method))}</td>
    <td>${who(v)}</td><td class="muted">${esc(v.id)}</td></tr>`).join("");
  $("trace-contacts").innerHTML = r.contacts.map(c => `<tr><td>${dhm(c.ts)}</td><td>${(Math.round(c.gap_ms / 6000) / 10 || 0).toFixed(1)}</td>
    <td>${esc(c.door)}</td><td>${esc(t(c.method))}</td><td>${who(c)}</td><td class="muted">${esc(c.subject.slice(0, 12))}</td>
    <td class="muted">${esc(c.id)}</td></tr>`).join("");
});
$("door-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const r = await post("/api/trace/door", doorBody(ev.target, "json"));
  $("door-summary").textContent = t("door_found", {n: r.scans.length, p: r.people, ms: r.took_ms});
  $("door-rows").innerHTML = r.scans.map(s => `<tr><td>${dhm(s.ts)}</td><td>${esc(s.door)}</td><td>${esc(t(s.method))}</td>
    <td>${who(s)}</td><td class="muted">${esc(s.subject.slice(0, 12))}</td><td class="muted">${esc(s.id)}</td></tr>`).join("");
});
async function download(path, body, name) {
  const text = await post(path, body);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], {type: "text/csv"})); a.download = name; a.click();
}
$("trace-csv").onclick = () => { const f = $("trace-form"); if (f.reportValidity()) download("/api/trace/person", traceBody(f, "csv"), "trace.csv"); };
$("door-csv").onclick = () => { const f = $("door-form"); if (f.reportValidity()) download("/api/trace/door", doorBody(f, "csv"), "door.csv"); };

// --- audit ---------------------------------------------------------------------------------------
async function loadAudit() {
  const r = await api("/api/audit?limit=300");
  $("audit-chain").textContent = r.chain_broken_at == null ? t("chain_ok") : t("chain_broken", {n: r.chain_broken_at});
  $("audit").innerHTML = r.rows.map(a => `<tr><td>${dhm(a.at_ms)}</td><td>${esc(a.user)}</td><td>${esc(a.role === "-" ? "-" : t("role_" + a.role))}</td>
    <td>${esc(t("act_" + a.action))}</td><td class="muted">${esc(JSON.stringify(a.detail))}</td></tr>`).join("");
}

// --- page ------------------------------------------------------------------------------------------
$("signin-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target;
  try {
    me = await post("/api/sign-in", {name: f.name.value, password: f.password.value});
    f.password.value = ""; $("signin-error").textContent = ""; start();
  } catch { me = null; $("signin-error").textContent = t("bad_sign_in"); }
});
$("signout").onclick = async () => { try { await post("/api/sign-out", {}); } finally { showSignIn(); } };
$("tabs").addEventListener("click", ev => { const b = ev.target.closest("button"); if (b) show(b.dataset.view); });
$("alarm").onclick = () => show("alerts");
$("lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("lang", lang); applyLang();
  if (me) { $("who").textContent = `${me.user} · ${t("role_" + me.role)}`; alertsChanged(); renderEntries(); show(view); } };
(function defaultTimes() {
  const pad = d => new Date(d - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const now = Date.now();
  for (const f of [$("trace-form"), $("door-form")]) { f.from.value = pad(now - 14 * 86400000); f.to.value = pad(now + 60000); }
  $("door-form").from.value = pad(now - 3600000);
})();
applyLang(); boot();
