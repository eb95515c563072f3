// The duty page (一码一守): who is on duty at which door and since when, signing on and
// off, and opening a gate once after a manual check. Loaded after console.js, whose
// helpers (el, put, api, post, t, hms, dhm, can, me) it uses.
let DUTY = {doors: [], me: null, reasons: [], history: [], openings: [], staff: null};

async function loadDuty() {
  DUTY = await api("/api/duty");
  return DUTY;
}
const via = v => (v === "console" ? t("via_console") : `${t("via_card")} ${String(v).replace(/^card:/, "")}`);
const canOpen = door => can("open_gate") && (me.role === "manager" || (DUTY.me && DUTY.me.door === door));
function gateResult(o) {
  if (o.ok === 1) return `${t("gate_opened")} ${hms(o.done_ms)}`;
  if (o.ok === 0) return `${t("gate_refused_short")}: ${t("refused_" + o.refused)}`;
  return t("gate_no_answer_short");
}
function reasonSelect() {
  return el("select", {class: "gate-reason", "aria-label": t("gate_reason")},
    DUTY.reasons.map(r => el("option", {value: r}, t("reason_" + r))));
}
async function renderDutyView() {
  await loadDuty();
  $("duty-me").textContent = DUTY.me ? t("on_duty_at", {door: DUTY.me.door, since: hms(DUTY.me.on_ms)}) : t("not_on_duty");
  const chosen = $("duty-door").value || (DUTY.me && DUTY.me.door);
  put($("duty-door"), DUTY.doors.map(d => el("option", {value: d.door, selected: d.door === chosen}, d.door)));
  $("duty-form").hidden = !can("stand_duty");
  $("duty-sign-off").hidden = !DUTY.me;
  put($("duty-doors"), DUTY.doors.map(d => el("tr", {"data-door": d.door}, el("td", null, d.door),
    el("td", null, d.on_duty.length
      ? d.on_duty.map(r => el("div", null, `${r.user} · ${t("since")} ${hms(r.on_ms)} `, muted(via(r.on_via))))
      : el("span", {class: "fault"}, t("nobody_on_duty"))),
    el("td", null, canOpen(d.door) ? [reasonSelect(), " ", el("button", {class: "btn danger open-gate"}, t("open_gate_once"))] : null))));
  put($("gate-openings"), DUTY.openings.map(o => el("tr", {"data-opening": o.n}, el("td", null, dhm(o.asked_ms)),
    el("td", null, o.door), el("td", null, `${o.user} `, muted(via(o.via))),
    el("td", null, t("reason_" + o.reason), o.note ? ` · ${o.note}` : ""),
    el("td", {class: o.ok === 1 ? "ok-text" : "bad-text"}, gateResult(o)))));
  put($("duty-history"), DUTY.history.map(r => el("tr", null, el("td", null, r.door), el("td", null, r.user),
    el("td", null, dhm(r.on_ms), " ", muted(via(r.on_via))),
    el("td", null, r.off_ms ? [dhm(r.off_ms), " ", muted(via(r.off_via))] : t("still_on")))));
  $("duty-staff-card").hidden = DUTY.staff == null;
  put($("duty-staff"), (DUTY.staff || []).map(s => el("tr", null, el("td", null, s.user), el("td", null, s.masked))));
}
function dutySaid(text, bad) {
  $("duty-error").textContent = text;
  $("duty-error").className = bad ? "error" : "ok-text";
}
async function dutyCall(path, body, okText) {
  try {
    const r = await post(path, body);
    dutySaid(typeof okText === "function" ? okText(r) : okText, false);
    return r;
  } catch (err) {
    dutySaid(String(err.message || err).replace(/^\{"detail":"(.*)"\}$/, "$1"), true);
    return null;
  } finally {
    await renderDutyView();
  }
}
$("duty-form").addEventListener("submit", ev => {
  ev.preventDefault();
  dutyCall("/api/duty/sign-on", {door: $("duty-door").value}, r => t("on_duty_at", {door: r.door, since: hms(r.on_ms)}));
});
$("duty-sign-off").onclick = () => dutyCall("/api/duty/sign-off", {}, t("signed_off"));
$("duty-doors").addEventListener("click", ev => {
  if (!ev.target.classList.contains("open-gate")) return;
  const row = ev.target.closest("tr");
  dutyCall(`/api/doors/${encodeURIComponent(row.dataset.door)}/open`, {reason: row.querySelector(".gate-reason").value},
    r => (r.ok === 1 ? t("gate_opened") : r.ok === 0 ? `${t("gate_refused_short")}: ${t("refused_" + r.refused)}` : t("gate_no_answer_short")));
});
