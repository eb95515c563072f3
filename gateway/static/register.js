// The register view: a visitor with neither phone nor card registered by hand, and the
// paper register kept during an outage keyed in (one entry, or a CSV file). Uses the
// helpers of console.js (el, put, api, post, t); every request carries the CSRF token.

// A refusal's reason code in the reader's language, else the server's message.
function why(err) {
  let detail;
  try { detail = JSON.parse(err.message).detail; } catch { return err.message; }
  if (detail && detail.reason) {
    const text = t("err_" + detail.reason);
    return text === "err_" + detail.reason ? detail.message : text;
  }
  return Array.isArray(detail) ? t("err_form") : err.message;
}

async function loadRegister() {
  const doors = await api("/api/doors");
  document.querySelectorAll("#view-register select.doors").forEach(s => {
    const kept = s.value;
    put(s, doors.map(d => el("option", {value: d}, d)));
    if (doors.includes(kept)) s.value = kept;
  });
}

// The nationality field only for a passport.
document.querySelectorAll("#view-register select.document").forEach(s => s.addEventListener("change", () => {
  const label = s.form.querySelector("label.nationality");
  label.hidden = s.value !== "passport";
  label.querySelector("input").required = s.value === "passport";
}));

function formFields(f, names) {
  return Object.fromEntries(names.map(n => [n, f[n].value]));
}

$("visitor-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target, button = f.querySelector("button");
  $("visitor-error").textContent = ""; put($("visitor-result"));
  button.disabled = true;
  try {
    const r = await post("/api/register/visitor", formFields(f, ["door", "document", "number", "nationality"]));
    put($("visitor-result"), dot(r.colour), `${t(r.colour)} · ${lang === "zh" ? r.text[0] : r.text[1]} · `,
      muted(t("registered", {who: r.masked, door: r.door})));
    f.number.value = ""; f.nationality.value = "";
  } catch (err) { $("visitor-error").textContent = why(err); }
  finally { button.disabled = false; }
});

$("entry-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target, button = f.querySelector("button");
  $("entry-error").textContent = ""; put($("entry-result"));
  button.disabled = true;
  try {
    const r = await post("/api/register/entry", formFields(f, ["time", "door", "document", "number", "nationality", "colour"]));
    $("entry-result").textContent = r.imported ? t("entry_saved", {n: r.imported}) : t("entry_already");
    f.number.value = ""; f.nationality.value = "";
  } catch (err) { $("entry-error").textContent = why(err); }
  finally { button.disabled = false; }
});

$("import-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = ev.target, button = f.querySelector("button"), file = f.file.files[0];
  $("import-error").textContent = ""; put($("import-summary")); put($("import-bad"));
  if (!file) return;
  button.disabled = true;
  try {
    const r = await api("/api/register/import", {method: "POST", body: file, headers: {"Content-Type": "text/csv"}});
    $("import-summary").textContent = t("import_done", {n: r.imported, a: r.already, b: r.bad.length});
    put($("import-bad"), r.bad.map(b => {
      const text = t("err_" + b.reason);
      return el("tr", {"data-line": b.line}, el("td", null, b.line),
        el("td", null, text === "err_" + b.reason ? b.message : text));
    }));
  } catch (err) { $("import-error").textContent = why(err); }
  finally { button.disabled = false; }
});
