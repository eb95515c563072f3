// The console page: sign-in, then the views the signed-in role may see.
const $ = id => document.getElementById(id);
// Every value reaches the page through el()/put(): as a text node or an attribute value,
// never as HTML to parse (no innerHTML anywhere), so nothing a kiosk, a visitor or a
// colleague typed can become markup or script. The server's CSP forbids inline script too.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (/^on/i.test(name)) throw new Error("no event handler attributes: " + name);
    if (value == null || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  return append(node, children);
}
function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}
const put = (target, ...children) => { target.replaceChildren(); return append(target, children); };
const muted = text => el("span", {class: "muted"}, text);
const locale = () => (lang === "zh" ? "zh-CN" : "en-GB");
let siteZone;  // times are shown on the site's clock, whatever the tablet's zone
const hms = ms => new Date(ms).toLocaleTimeString(locale(), {hour12: false, timeZone: siteZone});
const dhm = ms => new Date(ms).toLocaleString(locale(), {hour12: false, timeZone: siteZone});
const OUTCOMES = ["let_in_after_check", "turned_away", "sent_to_health_desk", "handed_to_community", "handed_to_cdc", "left_before_check", "kiosk_fixed", "false_alarm", "other"];
const HANDOVERS = ["handed_to_community", "handed_to_cdc"];
const COLOURS = {green: "#1aa34a", yellow: "#f2b01e", red: "#d9363e", unknown: "#8a8f98", offline: "#4e5969"};
const dot = colour => el("span", {class: "dot " + (colour in COLOURS ? colour : "unknown")});
const person = e => (e.masked_name ? e.masked_name + " " + e.masked : e.masked);
let me = null, feed = null, openAlerts = new Map(), acked = [], entries = [], view = null, timers = [];

async function api(path, opts = {}) {
  const headers = {"Content-Type": "application/json"};
  if (me) headers["X-CSRF-Token"] = me.csrf;
  const r = await fetch(path, {credentials: "same-origin", ...opts, headers: {...headers, ...(opts.headers || {})}});
  if (r.status === 401 && path !== "/api/sign-in") { showSignIn(); throw new Error("signed out"); }
  if (!r.ok) throw Object.assign(new Error((await r.text()) || r.status), {status: r.status, response: r});
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
  try { me = await (await fetch("/api/me")).json(); if (!me.user) throw 0; } catch { return showSignIn(); }
  start();
}
function start() {
  siteZone = me.timezone || undefined;  // else the browser's zone
  $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
  $("who").textContent = `${me.user} · ${t("role_" + me.role)}`;
  document.querySelectorAll("#tabs button").forEach(b => { b.hidden = !can(b.dataset.perm); });
  const first = [...document.querySelectorAll("#tabs button")].find(b => !b.hidden);
  if (can("live")) { connectFeed(); loadDuty().then(loadAlerts); }
  show(first.dataset.view);
}
function stopAll() {
  if (feed) { feed.close(); feed = null; }
  timers.forEach(clearInterval); timers = []; openAlerts.clear();
}
// What each tab does when shown; other scripts (duty.js) add theirs.
const VIEWS = {live: () => loadLive(), alerts: () => renderAlerts(), kiosks: () => loadKiosks(), counts: () => loadCounts(),
               report: () => loadReport(), audit: () => loadAudit(), trace: () => {}, duty: () => renderDutyView(),
               units: () => loadUnits(), register: () => loadRegister()};
function show(name) {
  view = name;
  document.querySelectorAll("#tabs button").forEach(b => b.classList.toggle("active", b.dataset.view === name));
  document.querySelectorAll("section.view").forEach(s => s.classList.toggle("active", s.id === "view-" + name));
  VIEWS[name]();
}

// --- live entries and alerts -------------------------------------------------------------
async function loadLive() {
  entries = await api("/api/entries?limit=50"); renderEntries(); loadStats();
}
async function loadStats() {
  const s = await api("/api/summary");
  put($("stats"), ["green", "yellow", "red", "unknown"].map(k =>
    el("span", null, dot(k), `${t(k)} ${s.counts[k] || 0}`)),
    el("span", null, `${t("tab_kiosks")} ${s.kiosks_online}/${s.kiosks_total}`),
    s.storage.fault ? el("span", {class: "fault", id: "storage-fault"}, `${t("storage_fault")} (${s.storage.fault}, ${hms(s.storage.since_ms)})`) : null,
    s.forwarder.last_error ? el("span", {class: "fault", id: "upload-failing"}, `${t("upload_failing")}: ${s.forwarder.last_error}`) : null);
  $("clock").textContent = hms(s.now_ms);
}
function entryRow(e, fresh) {
  const colour = e.colour || "unknown";
  return el("tr", {"data-id": e.id, class: fresh ? "fresh" : null},
    el("td", null, hms(e.ts)), el("td", null, e.door),
    el("td", null, t(e.method), e.medium ? [" ", muted(t(e.medium))] : null),
    el("td", null, person(e)), el("td", null, dot(colour), t(colour),
      e.temp_dc != null ? muted(` ${(e.temp_dc / 10).toFixed(1)} °C`) : null), el("td", null, t(e.decided)));
}
function renderEntries(freshId) {
  const filter = $("door-filter"), door = filter.value;
  const doors = [...new Set(entries.map(e => e.door))].sort();
  const known = [...filter.options].map(o => o.value).filter(Boolean);
  if (doors.join() !== known.join()) {
    put(filter, el("option", {value: ""}, t("all_doors")), doors.map(d => el("option", {value: d}, d)));
    filter.value = doors.includes(door) ? door : "";
  }
  filter.options[0].textContent = t("all_doors");
  put($("entries"), entries.filter(e => !filter.value || e.door === filter.value)
    .map(e => entryRow(e, e.id === freshId)));
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
  feed.addEventListener("escalated", m => { const a = JSON.parse(m.data); const o = openAlerts.get(a.n);
    if (o) { Object.assign(o, a); alertsChanged(); } });
  // someone signed on or off: who may open which gate changed
  feed.addEventListener("duty", () => { if (view === "duty") VIEWS.duty(); else loadDuty().then(alertsChanged); });
  feed.addEventListener("gate", () => { if (view === "duty") VIEWS.duty(); });
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
// An alert is mine when I was on duty at its door when it was raised.
const mine = a => Boolean(me && a.assignee && a.assignee.split(",").includes(me.user));
// It sounds for me when it is mine, or nobody's (nobody on duty at its door).
const soundsForMe = a => mine(a) || !a.assignee;
function alertsChanged() {
  const n = openAlerts.size, m = [...openAlerts.values()].filter(mine).length;
  $("alert-badge").hidden = n === 0; $("alert-badge").textContent = n;
  $("alarm").className = n ? (m ? "on mine" : "on") : "";
  $("alarm").textContent = n ? t("alarm", {n}) + (m ? " " + t("alarm_mine", {m}) : "") : "";
  if (view === "alerts") renderAlerts();
}
function alertWhat(a) {
  if (a.kind === "kiosk_offline") return `${t("alert_kiosk_offline")} ${a.kiosk}`;
  if (a.kind === "misuse") return `${t("alert_misuse_" + a.action) || t("alert_misuse")} · ${a.door}`;
  if (a.kind === "kiosk_claim") {
    return `${t("alert_kiosk_claim")} ${a.kiosk}: ${String(a.action || "").split(",").map(f => t("claim_" + f)).join(", ")}`;
  }
  if (a.kind === "replay_flood") return `${t("alert_replay_flood")} ${a.kiosk} (${a.action})`;
  if (a.kind === "sequence_fault") return `${t("alert_sequence_fault")} ${a.kiosk}: ${t("seq_" + a.action)} (${a.masked})`;
  if (a.kind === "door_unattended") return `${t("alert_door_unattended")} (${t("unattended_" + a.action)})`;
  if (a.kind === "high_temperature") {
    return [dot(a.colour || "unknown"), t("alert_high_temperature"), /^\d/.test(a.action || "") ? ` ${a.action} °C` : ""];
  }
  if (a.kind === "low_coverage") return `${t("alert_low_coverage")} ${a.masked} · ${a.action}`;
  if (a.kind === "unchecked_passes") return `${t("alert_unchecked_passes", {n: a.action})} ${a.kiosk} · ${a.door}`;
  return [dot(a.colour || "unknown"), `${t(a.colour || "unknown")} · ${t("alert_entry")}`];
}
function alertWho(a) {  // who it is for, and whether the site manager was told
  return el("div", {class: "muted who"},
    a.assignee ? t("on_duty_was", {who: a.assignee}) : t("nobody_on_duty"),
    a.escalated_ms ? el("span", {class: "escalated"}, ` · ${t("escalated_at")} ${hms(a.escalated_ms)}`) : null,
    !a.escalated_ms && a.escalation_error ? el("span", {class: "fault"}, ` · ${t("escalation_failing")}: ${a.escalation_error}`) : null);
}
function gateControls(a) {  // open the gate once after a manual check (gateway/duty_routes.py)
  if (a.kind !== "entry" || !a.door || !canOpen(a.door) || !DUTY.reasons.length) return null;
  return el("div", {class: "gate-controls"},
    el("select", {class: "gate-reason", "aria-label": t("gate_reason")},
      DUTY.reasons.map(r => el("option", {value: r}, t("reason_" + r)))), " ",
    el("button", {class: "btn danger open-gate"}, t("open_gate_once")));
}
const outcomeText = o => t(o === "other" ? "other_outcome" : o);
function renderAlerts() {
  put($("alerts"), [...openAlerts.values()].sort((a, b) => b.n - a.n).map(a =>
    el("tr", {class: "alert-row" + (mine(a) ? " mine" : ""), "data-alert": a.n}, el("td", null, hms(a.ts)),
      el("td", null, alertWhat(a), alertWho(a)),
      el("td", null, a.door || a.kiosk), el("td", null, a.masked || ""),
      el("td", null,
        el("select", {class: "outcome"}, OUTCOMES.map(o => el("option",
          {value: o, selected: a.kind === "kiosk_offline" && o === "kiosk_fixed"}, outcomeText(o)))),
        el("input", {class: "note", placeholder: t("note"), maxlength: 500}),
        el("span", {class: "handover", hidden: true},
          el("input", {class: "handover-contact", placeholder: t("handover_contact"), maxlength: 100}),
          el("input", {class: "handover-time", type: "datetime-local", "aria-label": t("handover_time")})), " ",
        el("button", {class: "btn primary ack"}, t("ack")), gateControls(a)))));
  put($("acked"), acked.map(a => el("tr", null, el("td", null, hms(a.ts)), el("td", null, alertWhat(a)),
    el("td", null, a.door || a.kiosk), el("td", null, `${outcomeText(a.outcome)} ${a.note || ""}`,
      a.handover_contact ? ` · ${a.handover_contact} ${dhm(a.handover_ms)}` : ""),
    el("td", null, `${a.acked_by} ${hms(a.acked_ms)}`))));
}
$("alerts").addEventListener("change", ev => {
  if (!ev.target.classList.contains("outcome")) return;
  ev.target.closest("tr").querySelector(".handover").hidden = !HANDOVERS.includes(ev.target.value);
});
$("alerts").addEventListener("click", async ev => {
  const row = ev.target.closest("tr"), n = row && Number(row.dataset.alert);
  if (ev.target.classList.contains("open-gate")) {
    const a = openAlerts.get(n);
    ev.target.disabled = true;
    try {
      const done = await post(`/api/doors/${encodeURIComponent(a.door)}/open`,
        {reason: row.querySelector(".gate-reason").value, alert: n});
      if (done.ok !== 1) alert(t(done.ok === 0 ? "gate_refused" : "gate_no_answer", {why: done.refused || ""}));
    } catch (err) { alert(err.message); } finally { ev.target.disabled = false; }
    return;
  }
  if (!ev.target.classList.contains("ack")) return;
  const outcome = row.querySelector(".outcome").value, body = {outcome, note: row.querySelector(".note").value};
  if (HANDOVERS.includes(outcome)) {
    const when = row.querySelector(".handover-time").value;
    body.handover_contact = row.querySelector(".handover-contact").value;
    body.handover_ms = when ? new Date(when).getTime() : null;
  }
  ev.target.disabled = true;
  try {
    await post(`/api/alerts/${n}/ack`, body);
  } catch (err) { ev.target.disabled = false; alert(err.message); }
});
let audio = null;
function beep() {
  if (![...openAlerts.values()].some(soundsForMe)) return;
  document.body.dataset.beeps = Number(document.body.dataset.beeps || 0) + 1;
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
  if (v === undefined) return muted("—");
  return v === "ok" ? el("span", {class: "online"}, t("ok")) : el("span", {class: "fault"}, v);
}
function offset(k) {  // reported offset if any, else the estimate from the last live scan
  if (k.clock_offset_ms != null) return `${k.clock_offset_ms} ms`;
  if (k.clock_offset_estimate_ms == null) return muted("—");
  const v = k.clock_offset_estimate_ms, bad = Math.abs(v) > 2000;
  return el("span", {class: bad ? "fault" : null, title: t("offset_estimate")}, `≈ ${v > 0 ? "+" : ""}${v} ms`);
}
function ageOf(ms) {  // how long ago, in seconds, or a dash
  return ms == null ? muted("—") : `${Math.max(0, Math.round((Date.now() - ms) / 1000))} ${t("seconds_ago")}`;
}
function trustList(k) {
  const tl = k.lists && k.lists.trust_list;
  if (!tl || tl.version == null) return muted("—");
  return `${t("version")}${tl.version} · ${t("age")}${tl.age_s} ${t("seconds_ago")}`;
}
async function loadKiosks() {
  const rows = await api("/api/kiosks");
  put($("kiosks"), rows.map(k => el("tr", {"data-kiosk": k.kiosk}, el("td", null, k.kiosk),
    el("td", {class: k.state === "online" ? "online" : "offline"}, t(k.state)), el("td", null, hms(k.last_seen_ms)),
    el("td", null, k.outbox ?? "—"), el("td", null, part(k.health, "camera")),
    el("td", null, part(k.health, "reader")), el("td", null, part(k.health, "board")),
    el("td", null, part(k.health, "thermometer")),
    el("td", null, k.sw || "—"), el("td", null, offset(k)), el("td", null, ageOf(k.oldest_ms)),
    el("td", {class: k.missing ? "fault" : null}, k.missing ?? "—"), el("td", null, trustList(k)),
    el("td", {"data-policy": ""}, k.policy ? policyText(k.policy) || t("policy_none") : "—"))));
}
// an entry policy in words (gateway/entry_policy.py): what the door asks beyond the colour
const policyText = p => [p.yellow === "refuse" ? t("policy_yellow_refuse") : null,
  p.test_within_h ? t("policy_test", {h: p.test_within_h}) : null,
  p.unchecked === "hold" ? t("policy_unchecked_hold") : null].filter(Boolean).join(" · ");

// --- units: venue → shops/stalls/zones → doors, as the register has them ------------------
async function loadUnits(day) {
  const r = await api("/api/units" + (day ? `?day=${day}` : ""));
  $("units-form").day.value = r.day;
  const reg = r.register;
  $("units-register").textContent = reg.single ? t("units_single")
    : t("units_loaded", {n: reg.units, d: reg.doors, at: reg.loaded_ms ? dhm(reg.loaded_ms) : "—"});
  const problems = [...(reg.error ? [reg.error] : []), ...reg.problems,
    ...r.unplaced_doors.map(x => t("unplaced_door", {door: x.door, n: x.scans}))];
  put($("units-problems"), problems.map(p => el("li", null, p)));
  const kind = u => (u.identifier_kind.startsWith("parent:") ? t("id_parent") : t("id_" + u.identifier_kind));
  const policy = policyText;
  put($("units"), r.units.map(u => el("tr", {"data-unit": u.code},
    el("td", {class: "depth-" + u.depth}, u.depth ? "└ " : "", el("b", null, u.name), " ", muted(u.code),
      u.missing.length ? el("div", {class: "bad-text", "data-missing": u.missing.join(",")},
        t("incomplete", {fields: u.missing.map(f => t("field_" + f)).join(lang === "zh" ? "、" : ", ")})) : ""),
    el("td", null, lang === "zh" ? u.category_zh : u.category_en,
      u.sentinel ? [" ", el("b", {class: "bad-text"}, t("sentinel"))] : "",
      el("div", null, muted(lang === "zh" ? u.department_zh : u.department_en)),
      policy(u.policy) ? el("div", {"data-policy": ""}, policy(u.policy)) : ""),
    el("td", null, u.identifier ? `${u.identifier} ` : "—", muted(kind(u))),
    el("td", null, u.doors.map(d => el("div", {"data-door": d.door}, d.name ? [d.name, " ", muted(`${d.door} · ${d.scans}`)] : [d.door, " ", muted(`· ${d.scans}`)]))),
    el("td", null, u.scans_own), el("td", null, el("b", null, u.scans)))));
}
$("units-form").addEventListener("submit", ev => { ev.preventDefault(); loadUnits(ev.target.day.value); });

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
  put($("door-counts"), d.doors.map(x => el("tr", null, el("td", null, x.door), el("td", null, x.checked),
    el("td", null, x.people ?? "—"), el("td", {class: "coverage"}, pct(x.coverage)))));
  // per unit, rolled up over the units inside it; each hour a cell, red under 90 %
  const cell = h => el("span", {class: "hour-cov" + (h.coverage != null && h.coverage < 0.9 ? " bad-text" : ""),
    title: `${String(new Date(h.hour_ms).getHours()).padStart(2, "0")}:00 ${h.checked}/${h.people ?? "—"}`},
    h.coverage == null ? "·" : Math.round(h.coverage * 100) + " ");
  put($("unit-coverage"), (d.units || []).map(u => el("tr", {"data-unit": u.code},
    el("td", {class: "depth-" + u.depth}, u.depth ? "└ " : "", u.name, " ", muted(u.code)),
    el("td", null, u.checked), el("td", null, u.people ?? "—"),
    el("td", {class: "coverage"}, pct(u.coverage)), el("td", null, u.hours.map(cell)))));
  const doors = [...new Set(days.flatMap(x => Object.keys(x.doors)))].sort();
  const palette = ["#1664ff", "#14c9c9", "#f7ba1e", "#722ed1", "#f53f3f", "#3491fa", "#00b42a", "#ff7d00"];
  barChart($("day-chart"), days.map(x => x.day.slice(5)), doors.map((door, i) => ({name: door,
    colour: palette[i % palette.length], values: days.map(x => x.doors[door] || 0)})));
}
$("counts-form").addEventListener("submit", ev => { ev.preventDefault(); loadCounts(ev.target.day.value); });

// --- daily report: every unit's report for one period, and the platform's answer -------------
const STATE_CLASS = {confirmed: "ok-text", late: "bad-text", mismatched: "bad-text", pending: "bad-text", open: "muted", untracked: "muted"};
function stateCell(u) {
  const parts = [el("span", {class: STATE_CLASS[u.state]}, t("state_" + u.state))];
  if (u.revision > 1) parts.push(" ", muted(t("revision", {n: u.revision})));
  if (u.state === "mismatched" && u.difference) {
    const d = u.difference.total;
    parts.push(el("div", {class: "bad-text"}, t("difference", {reported: d.reported, platform: d.platform})));
    if (u.late) parts.push(el("div", {class: "bad-text"}, t("state_late")));
  }
  if (u.state === "pending" && u.last_error) parts.push(el("div", {class: "muted"}, `${u.last_error} (${u.tries})`));
  if (u.state !== "open" && u.reported_scans != null && !u.current) parts.push(el("div", {class: "muted"}, t("correction_due")));
  return parts;
}
async function loadReport(day) {
  const r = await api("/api/report" + (day ? `?day=${day}` : ""));
  const p = r.period;
  $("report-form").day.value = p.day;
  $("report-message").textContent = "";
  $("report-schedule").textContent = t("schedule", {deadline: r.schedule.deadline, cutoff: r.schedule.cutoff, tz: r.schedule.timezone});
  $("report-period").textContent = t("period_bounds", {from: p.from.replace("T", " "), to: p.to.replace("T", " "), deadline: p.deadline.replace("T", " ")});
  put($("report-states"), Object.entries(r.states).map(([s, n]) => el("span", {class: STATE_CLASS[s] + " state-count"}, `${t("state_" + s)} ${n}`)),
    Object.entries(r.unplaced).map(([d, n]) => el("div", {class: "bad-text"}, t("unplaced_door", {door: d, n}))));
  put($("report-rows"), r.units.map(u => el("tr", {"data-unit": u.unit, "data-state": u.state},
    el("td", {class: "depth-" + u.depth}, u.depth ? "└ " : "", el("b", null, u.name), " ", muted(u.unit)),
    el("td", null, el("b", null, u.scans), u.units.length ? muted(` (${t("own")} ${u.own_scans})`) : ""),
    el("td", null, u.reported_scans ?? "—"), el("td", null, stateCell(u)),
    el("td", null, u.doors.filter(d => d.unit === u.unit).map(d => el("div", null, d.name || d.door, " ", muted(d.scans)))),
    ["green", "yellow", "red", "unknown", "offline"].map(c => el("td", null, u[c])))));
  put($("report-attempts"), r.attempts.map(a => el("tr", null, el("td", null, dhm(a.at_ms)), el("td", null, a.day),
    el("td", null, a.trigger === "automatic" ? t("automatic") : a.trigger),
    el("td", {class: a.ok ? "ok-text" : "bad-text"}, `${a.ok ? t("delivered") : t("failed")} (${a.status})`),
    el("td", null, a.units ?? "—"), el("td", null, a.total))));
}
$("report-form").addEventListener("submit", ev => { ev.preventDefault(); loadReport(ev.target.day.value); });
$("report-send").onclick = async () => {
  try { await post("/api/report/send", {day: $("report-form").day.value || null}); loadReport($("report-form").day.value); }
  catch (e) { $("report-message").textContent = e.status === 409 ? t("period_open") : String(e.message); }
};
$("report-csv").onclick = () => { location.href = "/api/report.csv?day=" + ($("report-form").day.value || ""); };

// --- tracing -----------------------------------------------------------------------------------
const ms = v => new Date(v).getTime();
function traceBody(f, format) {
  const body = {kind: f.kind.value, value: f.value.value, from_ms: ms(f.from.value), to_ms: ms(f.to.value), format};
  return f.scope.value === "venue" ? {...body, default_stay_minutes: Number(f.stay.value) || null}
    : {...body, window_minutes: Number(f.window.value) || null};
}
const tracePath = f => f.scope.value === "venue" ? "/api/trace/venue" : "/api/trace/person";
function doorBody(f, format) { return {door: f.door.value, from_ms: ms(f.from.value), to_ms: ms(f.to.value), format}; }
$("trace-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const r = await post(tracePath(ev.target), traceBody(ev.target, "json"));
  $("trace-summary").textContent = t("trace_found", {v: r.visits.length, c: r.contacts.length, p: r.people, ms: r.took_ms});
  // venue-wide: each stay in a venue, from the scan to the exit counted or the default stay
  put($("trace-stays"), (r.stays || []).map(s => el("li", {"data-stay": s.venue},
    t("stay_line", {venue: s.venue_name, code: s.venue, from: dhm(s.start_ms), to: dhm(s.end_ms)}), " ",
    muted(s.basis === "exits" ? t("basis_exits") : t("basis_default", {m: r.default_stay_minutes})))));
  const gap = c => c.gap_ms ?? (c.ts - r.stays[c.stay].start_ms);
  put($("trace-visits"), r.visits.map(v => el("tr", null, el("td", null, dhm(v.ts)), el("td", null, v.door),
    el("td", null, t(v.method)), el("td", null, person(v)), el("td", {class: "muted"}, v.id))));
  put($("trace-contacts"), r.contacts.map(c => el("tr", null, el("td", null, dhm(c.ts)),
    el("td", null, (Math.round(gap(c) / 6000) / 10 || 0).toFixed(1)), el("td", null, c.door,
      c.basis ? [" ", muted(t(c.basis === "exits" ? "until_exits" : "until_default", {to: dhm(c.stay_until_ms)}))] : ""),
    el("td", null, t(c.method)), el("td", null, person(c)), el("td", {class: "muted"}, c.subject.slice(0, 12)),
    el("td", {class: "muted"}, c.id))));
});
$("door-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const r = await post("/api/trace/door", doorBody(ev.target, "json"));
  $("door-summary").textContent = t("door_found", {n: r.scans.length, p: r.people, ms: r.took_ms});
  put($("door-rows"), r.scans.map(s => el("tr", null, el("td", null, dhm(s.ts)), el("td", null, s.door),
    el("td", null, t(s.method)), el("td", null, person(s)), el("td", {class: "muted"}, s.subject.slice(0, 12)),
    el("td", {class: "muted"}, s.id))));
});
async function download(path, body, name) {
  const text = await post(path, body);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], {type: "text/csv"})); a.download = name; a.click();
}
$("trace-csv").onclick = () => { const f = $("trace-form"); if (f.reportValidity()) download(tracePath(f), traceBody(f, "csv"), "trace.csv"); };
$("door-csv").onclick = () => { const f = $("door-form"); if (f.reportValidity()) download("/api/trace/door", doorBody(f, "csv"), "door.csv"); };

// --- audit ---------------------------------------------------------------------------------------
async function loadAudit() {
  const r = await api("/api/audit?limit=300");
  $("audit-chain").textContent = r.chain_broken_at == null ? t("chain_ok") : t("chain_broken", {n: r.chain_broken_at});
  put($("audit"), r.rows.map(a => el("tr", null, el("td", null, dhm(a.at_ms)), el("td", null, a.user),
    el("td", null, a.role === "-" ? "-" : t("role_" + a.role)), el("td", null, t("act_" + a.action)),
    el("td", {class: "muted"}, JSON.stringify(a.detail)))));
}

// --- page ------------------------------------------------------------------------------------------
$("signin-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target;
  try {
    me = await post("/api/sign-in", {name: f.name.value, password: f.password.value});
    f.password.value = ""; $("signin-error").textContent = ""; start();
  } catch (err) {
    me = null;
    $("signin-error").textContent = err.status === 429
      ? t("locked_sign_in", {s: err.response.headers.get("Retry-After") || "?"}) : t("bad_sign_in");
  }
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
// Once every script of the page has run (duty.js comes after this one).
document.addEventListener("DOMContentLoaded", () => { applyLang(); boot(); });
