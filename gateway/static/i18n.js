// Console texts: Chinese first, English second. Keys missing in one language show the key.
const TEXT = {
  zh: {
    title: "场所码 · 现场控制台", sign_in: "登录", sign_out: "退出", name: "用户名", password: "密码",
    bad_sign_in: "用户名或密码错误", other: "English",
    tab_live: "实时入场", tab_alerts: "告警", tab_kiosks: "核验终端", tab_counts: "统计", tab_report: "日报",
    tab_trace: "流调追踪", tab_audit: "审计日志",
    role_duty: "值班员", role_manager: "场所负责人", role_tracer: "流调员",
    entries: "最新入场", all_doors: "全部门", time: "时间", door: "门", method: "方式", person: "人员", colour: "结果", decided: "判定",
    online: "在线", offline: "离线", code: "健康码", signed_code: "离线签名码", id_card: "身份证",
    screen: "手机", paper: "纸质码", card: "卡",
    green: "绿码", yellow: "黄码", red: "红码", unknown: "未核验",
    open_alerts: "待处理告警", recent_acks: "已处理", what: "事项", done: "处理", outcome: "处理结果", by: "处理人",
    alert_entry: "入场需人工处理", alert_kiosk_offline: "终端离线", alert_misuse: "离线码异常使用",
    alert_misuse_second_door: "同一离线码在另一入口出示", alert_misuse_reused: "一次性离线码重复使用", ack: "确认处理", note: "备注",
    alert_kiosk_claim: "终端上报内容不可信", claim_foreign_door: "非本终端登记的门（已拒收）",
    claim_decision_overruled: "终端判定与网关核验不符（已按网关结果记录）", claim_clock_skew: "时间与网关时钟相差过大",
    alert_replay_flood: "终端补传数据过多（已丢弃超出部分）",
    let_in_after_check: "人工核验后放行", turned_away: "劝离", sent_to_health_desk: "送至健康服务点",
    left_before_check: "未核验即离开", kiosk_fixed: "终端已恢复", false_alarm: "误报", other_outcome: "其他",
    alarm: "有 {n} 条告警待处理 — 点击查看",
    storage_fault: "网关存储故障：磁盘无法写入（扫码暂未保存，终端保留并重发）", upload_failing: "上传平台失败，正在重试",
    kiosk: "终端", state: "状态", seen: "最后在线", backlog: "待传", camera: "摄像头", reader: "读卡器", board: "门控板",
    firmware: "固件版本", clock_offset: "时钟偏差", oldest_unsent: "最早未传", seq_gaps: "缺号",
    trust_list: "信任列表", version: "版本", age: "", seconds_ago: "秒前", ok: "正常", offset_estimate: "由最近一次扫码估算（含传输时间）",
    day: "日期", show: "查看", per_hour: "每小时入场（各门合计）", per_door: "各门统计", per_day: "近14天每日入场",
    checked: "已核验", people: "通过人数", coverage: "核验覆盖率",
    send_now: "立即上报", download_csv: "下载 CSV", report_rows: "当日各门扫码数", attempts: "上报记录",
    scans: "扫码数", trigger: "触发", result: "结果", automatic: "自动", delivered: "已送达", failed: "失败",
    schedule: "每日 {deadline} 前自动上报（提前 {lead} 分钟开始）",
    trace_person: "按人员追踪", trace_door: "某门某时段在场人员", id_kind: "证件类型", identifier: "身份证号 / 健康码",
    from: "从", to: "到", window_min: "前后（分钟）", search: "查询", export_csv: "导出 CSV",
    visits: "到访记录", contacts: "同时段在场人员", gap: "时差（分钟）", pseudonym: "化名", event_id: "记录号",
    trace_found: "{v} 次到访，{c} 条同时段记录，{p} 人，用时 {ms} 毫秒", door_found: "{n} 条记录，{p} 人，用时 {ms} 毫秒",
    user: "用户", role: "角色", action: "操作", detail: "详情", chain_ok: "日志链完整（未被改动）", chain_broken: "日志链在第 {n} 条处断裂！",
    act_sign_in: "登录", act_sign_out: "退出", act_sign_in_failed: "登录失败", act_sign_in_locked: "登录被锁定", act_unlock_user: "解除登录锁定",
    locked_sign_in: "密码错误次数过多，请 {s} 秒后再试",
    act_view_entries: "查看入场记录", act_view_alerts: "查看告警", act_open_live_feed: "打开实时入场",
    act_ack_alert: "处理告警", act_send_report: "上报日报", act_trace_person: "按人员追踪", act_trace_door: "按门追踪",
    no_permission: "无权限", connecting: "连接中…", live_on: "实时", live_off: "实时连接断开，重连中…",
  },
  en: {
    title: "PlaceCode · site console", sign_in: "Sign in", sign_out: "Sign out", name: "User name", password: "Password",
    bad_sign_in: "Wrong user name or password", other: "中文",
    tab_live: "Live entries", tab_alerts: "Alerts", tab_kiosks: "Kiosks", tab_counts: "Counts", tab_report: "Daily report",
    tab_trace: "Tracing", tab_audit: "Audit log",
    role_duty: "person on duty", role_manager: "site manager", role_tracer: "tracer",
    entries: "Latest entries", all_doors: "all doors", time: "Time", door: "Door", method: "Method", person: "Person", colour: "Result", decided: "Decided",
    online: "online", offline: "offline", code: "health code", signed_code: "signed code", id_card: "ID card",
    screen: "phone", paper: "paper code", card: "card",
    green: "green", yellow: "yellow", red: "red", unknown: "not checked",
    open_alerts: "Open alerts", recent_acks: "Acknowledged", what: "What", done: "Action", outcome: "Outcome", by: "By",
    alert_entry: "entry needs a person", alert_kiosk_offline: "kiosk offline", alert_misuse: "signed code misused",
    alert_misuse_second_door: "same one-time code at another door", alert_misuse_reused: "one-time code used again", ack: "Acknowledge", note: "Note",
    alert_kiosk_claim: "kiosk sent what the gateway does not believe", claim_foreign_door: "a door the kiosk is not enrolled for (refused)",
    claim_decision_overruled: "the kiosk's decision differs from the gateway's check (stored as the gateway's)", claim_clock_skew: "time far from the gateway's clock",
    alert_replay_flood: "kiosk replayed too much (the excess dropped)",
    let_in_after_check: "let in after check", turned_away: "turned away", sent_to_health_desk: "sent to health desk",
    left_before_check: "left before check", kiosk_fixed: "kiosk back", false_alarm: "false alarm", other_outcome: "other",
    alarm: "{n} open alert(s) — tap to see",
    storage_fault: "Gateway storage fault: the disk refuses writes (scans not stored yet; kiosks keep and resend them)", upload_failing: "Upload to the platform failing, retrying",
    kiosk: "Kiosk", state: "State", seen: "Last seen", backlog: "Backlog", camera: "Camera", reader: "Reader", board: "Board",
    firmware: "Firmware", clock_offset: "Clock offset", oldest_unsent: "Oldest unsent", seq_gaps: "Gaps",
    trust_list: "Trust list", version: "v", age: "", seconds_ago: "s old", ok: "ok", offset_estimate: "estimated from the last scan (includes delivery time)",
    day: "Day", show: "Show", per_hour: "Entries per hour (all doors)", per_door: "Per door", per_day: "Entries per day, last 14 days",
    checked: "Checked", people: "People counted", coverage: "Coverage",
    send_now: "Send now", download_csv: "Download CSV", report_rows: "Scans per door", attempts: "Uploads",
    scans: "Scans", trigger: "Trigger", result: "Result", automatic: "automatic", delivered: "delivered", failed: "failed",
    schedule: "Sent automatically before {deadline} every day (from {lead} minutes earlier)",
    trace_person: "Trace a person", trace_door: "Everyone at a door", id_kind: "Kind", identifier: "ID number / health code",
    from: "From", to: "To", window_min: "± minutes", search: "Search", export_csv: "Export CSV",
    visits: "Visits", contacts: "At the same door and time", gap: "Gap (min)", pseudonym: "Pseudonym", event_id: "Record",
    trace_found: "{v} visits, {c} overlapping scans, {p} people, {ms} ms", door_found: "{n} scans, {p} people, {ms} ms",
    user: "User", role: "Role", action: "Action", detail: "Detail", chain_ok: "Chain intact (unaltered)", chain_broken: "Chain broken at row {n}!",
    act_sign_in: "signed in", act_sign_out: "signed out", act_sign_in_failed: "sign-in failed", act_sign_in_locked: "sign-in locked", act_unlock_user: "ended a sign-in lock",
    locked_sign_in: "Too many wrong passwords: try again in {s} s",
    act_view_entries: "viewed entries", act_view_alerts: "viewed alerts", act_open_live_feed: "opened live feed",
    act_ack_alert: "acknowledged alert", act_send_report: "sent daily report", act_trace_person: "traced a person", act_trace_door: "traced a door",
    no_permission: "Not permitted", connecting: "connecting…", live_on: "live", live_off: "live feed lost, reconnecting…",
  },
};
let lang = localStorage.getItem("lang") || "zh";
function t(key, vars) {
  let s = TEXT[lang][key] ?? TEXT.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}
function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title") + (lang === "zh" ? " | PlaceCode console" : "");
  document.querySelectorAll("[data-t]").forEach(e => { e.textContent = t(e.dataset.t); });
  document.querySelectorAll("[data-ph]").forEach(e => { e.placeholder = t(e.dataset.ph); });
  document.getElementById("lang").textContent = t("other");
}
