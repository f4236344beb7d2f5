// The mailverify page: plain JavaScript, no build step, no network but
// this service's API.
"use strict";
(() => {
const $ = (id) => document.getElementById(id);
const STATUSES = ["deliverable", "risky", "undeliverable", "unknown"];

// What each reason means and what to do, in words.
const REASONS = {
  accepted: ["The mail server accepted this mailbox, and it does not accept made-up ones.", "Send to it."],
  invalid_syntax: ["This is not a valid email address.", "Fix the typing or remove it."],
  domain_not_found: ["The domain does not exist.", "Remove it, or check for a typo."],
  no_mail_server: ["The domain has no mail server.", "Remove it."],
  null_mx: ["The domain says it accepts no mail (null MX).", "Remove it."],
  unroutable_mx: ["The domain's mail server is on a private or reserved address.", "Remove it."],
  mailbox_not_found: ["The mail server says this mailbox does not exist.", "Remove it."],
  mailbox_disabled: ["The mailbox exists but is disabled.", "Remove it."],
  domain_rejects_mail: ["The domain refuses all mail.", "Remove it."],
  catch_all: ["The domain accepts every address, so this one cannot be confirmed.", "Keep it if the source is trusted; watch bounces."],
  mailbox_full: ["The mailbox is full.", "Try later, or keep it with care."],
  disposable: ["A throwaway address from a disposable-mail service.", "Usually remove it."],
  possible_typo: ["The domain looks like a typo of a common one.", "Use the suggestion."],
  cannot_verify: ["The server will not say whether mailboxes exist.", "Keep it with care."],
  greylisted: ["The server asked us to come back later (greylisting).", "Check again later."],
  rate_limited: ["The server is limiting how fast we may ask.", "Check again later."],
  temporary_failure: ["The server had a temporary problem.", "Check again later."],
  timeout: ["The server did not answer in time.", "Check again later."],
  connection_failed: ["We could not connect to the mail server.", "Check again later, from a host that may use port 25."],
  blocked: ["The server refused to talk to us; this says nothing about the mailbox.", "Check from another network."],
  dns_error: ["DNS did not answer properly.", "Check again later."],
  tls_error: ["The secure connection to the server failed.", "Check again later."],
  protocol_error: ["The server answered in a way that breaks the protocol.", "Check again later."],
  smtp_not_checked: ["The mail server was not asked.", "Verify with SMTP to know more."],
  smtputf8_unsupported: ["The server cannot take this internationalized address.", "Use an ASCII address if there is one."],
  parked_domain: ["The domain is parked or for sale; mail there often feeds spam traps.", "Remove it unless you know the owner."],
  delivered_before: ["The server accepts everyone, but your mail to this address was delivered recently.", "Send to it."],
  provider_confirmed: ["The server could not tell; your provider check says the account exists.", "Send to it."],
};
const RISKS = { parked: "parked domain", disposable_network: "disposable network", listed: "on a blocklist", new_domain: "new domain",
  typo_trap: "typo domain taking mail", trap_local_part: "abuse or trap address", accepts_all_by_policy: "accepts everyone by policy" };
const words = (reason) => (REASONS[reason] || [reason.replace(/_/g, " "), ""]);

// --- the API ---------------------------------------------------------
let token = sessionStorage.getItem("mailverify-token") || "";

// askToken asks for the token once, however many requests are waiting.
let asking = null;
function askToken() {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const d = $("token-dialog");
    d.addEventListener("close", () => {
      token = $("token").value.trim();
      sessionStorage.setItem("mailverify-token", token);
      asking = null;
      resolve();
    }, { once: true });
    d.showModal();
  });
  return asking;
}

async function api(method, path, opts = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = {};
    if (opts.type) headers["Content-Type"] = opts.type;
    if (opts.accept) headers.Accept = opts.accept;
    if (token) headers.Authorization = "Bearer " + token;
    let resp;
    try {
      resp = await fetch(path, { method, headers, body: opts.body });
    } catch (e) {
      throw new Error("The server cannot be reached. Is mailverify serve still running?");
    }
    if (resp.status === 401) { await askToken(); continue; }
    if (!resp.ok) {
      let detail = resp.statusText;
      try { const p = await resp.json(); detail = p.detail || p.title || detail; } catch (e) { /* not a problem body */ }
      throw new Error(detail + " (HTTP " + resp.status + ")");
    }
    return resp;
  }
  throw new Error("The token was not accepted.");
}

function showError(e) {
  const b = $("error");
  b.textContent = e ? String(e.message || e) : "";
  b.hidden = !e;
}

function el(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") n.className = v; else if (k === "text") n.textContent = v; else n.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) n.append(k);
  return n;
}

// --- check one address -------------------------------------------------
function renderOne(r) {
  const [meaning, advice] = words(r.reason);
  const flags = [];
  if (r.disposable) flags.push("disposable");
  if (r.role_account) flags.push("role account");
  if (r.free_provider) flags.push("free provider");
  if (r.catch_all === "yes") flags.push("catch-all domain");
  if (r.provider) flags.push("provider: " + r.provider + (r.backend ? " in front of " + r.backend : ""));
  for (const [k, ev] of Object.entries(r.risk || {})) flags.push((RISKS[k] || k) + (ev.service ? " (" + ev.service + ")" : "") + (ev.seen ? ": " + ev.seen.join(", ") : ""));
  if (r.feedback) flags.push("on record: " + r.feedback.kind.replace(/_/g, " ") + " " + r.feedback.at.slice(0, 10));
  const card = el("div", { class: "card", id: "one-card" },
    el("p", {}, el("span", { class: "badge " + r.status, id: "one-badge", text: r.status }), " ",
      el("strong", { id: "one-reason", text: r.reason.replace(/_/g, " ") })),
    el("p", { text: meaning }), advice ? el("p", { class: "muted", text: "What to do: " + advice }) : null);
  if (r.suggestion) {
    const b = el("button", { type: "button", class: "secondary", id: "one-suggest", text: "Did you mean " + r.local_part + "@" + r.suggestion + "?" });
    b.onclick = () => { $("one-addr").value = r.local_part + "@" + r.suggestion; checkOne(); };
    card.append(el("p", {}, b));
  }
  if (flags.length) card.append(el("p", {}, ...flags.map((f) => el("span", { class: "chip", text: f }))));
  if (r.mx_hosts && r.mx_hosts.length) card.append(el("p", { text: "Mail servers: " + r.mx_hosts.join(", ") }));
  if (r.smtp) card.append(el("p", { text: "Server said: " + r.smtp.code + " " + (r.smtp.enhanced_code || "") + " " + (r.smtp.message || "") }));
  if (r.retry_after) card.append(el("p", { class: "muted", text: "Try again in " + r.retry_after + " s." }));
  if (r.transcript && r.transcript.length) {
    const det = el("details", {}, el("summary", { text: "Show conversation" }), el("pre", { text: r.transcript.join("\n") }));
    card.append(det);
  }
  $("one-result").replaceChildren(card);
}

async function checkOne(ev) {
  if (ev) ev.preventDefault();
  const address = $("one-addr").value;
  if (!address.trim()) return;
  $("one-go").disabled = true;
  showError(null);
  try {
    const resp = await api("POST", "/v1/verify", { type: "application/json", body: JSON.stringify({ address, transcript: true }) });
    renderOne(await resp.json());
  } catch (e) { showError(e); } finally { $("one-go").disabled = false; }
}

// --- reading a list ----------------------------------------------------
// parseCSV reads RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF.
function parseCSV(text) {
  const rows = []; let row = []; let f = ""; let q = false; let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') { if (text[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += c;
    } else if (c === '"' && f === "") q = true;
    else if (c === ",") { row.push(f); f = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(f); rows.push(row); row = []; f = "";
    } else f += c;
  }
  if (q) throw new Error("The CSV file has an unterminated quoted field.");
  if (f !== "" || row.length) { row.push(f); rows.push(row); }
  return rows;
}

// detectColumn picks the address column as the service does.
function detectColumn(header) {
  const norm = header.map((h) => h.trim().toLowerCase());
  for (const want of ["email", "e-mail", "email address", "address", "mail"]) {
    const i = norm.indexOf(want); if (i >= 0) return i;
  }
  const i = norm.findIndex((h) => h.includes("mail"));
  return i >= 0 ? i : 0;
}

const state = { file: null, csv: false, header: null, rows: [], results: new Map(), job: null, cursor: "0", started: 0, page: 0 };
window.mailverify = { state, exportCSV, exportKept, exportNDJSON, parseCSV, detectColumn };

async function pickFile(file) {
  showError(null);
  state.file = file; state.results = new Map(); state.job = null;
  $("breakdown").hidden = true; $("progress-box").hidden = true;
  try {
    if (!/\.(csv|txt)$/i.test(file.name) && !/^text\//.test(file.type)) throw new Error(file.name + " is not a .csv or .txt file.");
    const text = await file.text();
    if (text.includes("\u0000")) throw new Error(file.name + " is not a text file.");
    state.csv = /\.csv$/i.test(file.name) || file.type === "text/csv";
    if (state.csv) {
      const rows = parseCSV(text);
      if (!rows.length) throw new Error("The CSV file is empty.");
      state.header = rows[0]; state.rows = rows.slice(1);
      const sel = $("column"); sel.replaceChildren(...state.header.map((h, i) => el("option", { value: String(i), text: h || "column " + (i + 1) })));
      sel.value = String(detectColumn(state.header));
      $("column-row").hidden = false;
    } else {
      state.header = null; state.rows = text.split(/\r?\n/).map((l) => [l]);
      $("column-row").hidden = true;
    }
    const n = addresses().length;
    if (!n) throw new Error(state.csv ? "The chosen column has no addresses." : "The file has no addresses.");
    $("file-info").textContent = file.name + ": " + n + " addresses";
    $("start").disabled = false;
  } catch (e) { $("start").disabled = true; $("file-info").textContent = ""; showError(e); }
}

function column() { return state.csv ? Number($("column").value) : 0; }

// addresses are [row index, address] for the rows with one.
function addresses() {
  const c = column(); const out = [];
  state.rows.forEach((r, i) => { const a = (r[c] || "").trim(); if (a) out.push([i, a]); });
  return out;
}

async function start() {
  showError(null);
  const list = addresses();
  if (!list.length) { showError(new Error("The chosen column has no addresses.")); return; }
  const body = list.map(([i, a]) => JSON.stringify({ address: a, ref: String(i) })).join("\n") + "\n";
  $("start").disabled = true;
  try {
    const resp = await api("POST", "/v1/jobs", { type: "application/x-ndjson", body });
    const job = await resp.json();
    state.job = job; state.cursor = "0"; state.results = new Map(); state.started = Date.now(); state.page = 0;
    $("progress-box").hidden = false; $("breakdown").hidden = false;
    poll();
  } catch (e) { showError(e); $("start").disabled = false; }
}

async function poll() {
  const job = state.job; if (!job) return;
  try {
    let more = true;
    while (more) {
      const resp = await api("GET", "/v1/jobs/" + job.id + "/results?limit=1000&after=" + state.cursor);
      const text = await resp.text();
      const next = resp.headers.get("Mailverify-Cursor") || state.cursor;
      for (const line of text.split("\n")) if (line) { const r = JSON.parse(line); state.results.set(r.ref != null ? Number(r.ref) : r.index, r); }
      more = text.length > 0 && next !== state.cursor; state.cursor = next;
    }
    const j = await (await api("GET", "/v1/jobs/" + job.id)).json();
    state.job = j;
    render();
    refreshJobs();
    if (j.state === "queued" || j.state === "running" || state.results.size < j.total && j.state !== "canceled") setTimeout(poll, 500);
    else $("start").disabled = false;
  } catch (e) { showError(e); setTimeout(poll, 2000); }
}

// --- showing results ---------------------------------------------------
function render() {
  const j = state.job; const done = state.results.size; const total = j.total || 1;
  const pct = Math.floor(100 * done / total);
  $("bar").style.width = pct + "%"; $("progress").setAttribute("aria-valuenow", String(pct));
  const secs = (Date.now() - state.started) / 1000; const rate = done / Math.max(secs, 0.001);
  const eta = done && done < total ? Math.ceil((total - done) / rate) + " s left" : "";
  $("progress-text").textContent = j.state === "canceled" ? "Canceled at " + done + " of " + j.total :
    pct + "% — " + done + " of " + j.total + " checked" + (done ? ", " + rate.toFixed(1) + "/s" : "") + (eta ? ", " + eta : "") + (j.state === "done" && done === j.total ? " — done" : "");
  $("cancel").hidden = j.state === "done" || j.state === "canceled";
  const byStatus = {}; const byReason = {};
  for (const r of state.results.values()) { byStatus[r.status] = (byStatus[r.status] || 0) + 1; byReason[r.reason] = (byReason[r.reason] || 0) + 1; }
  chart($("chart-status"), STATUSES.map((s) => [s, byStatus[s] || 0]), true);
  chart($("chart-reason"), Object.entries(byReason).sort((a, b) => b[1] - a[1]), false);
  fillSelect($("f-status"), Object.keys(byStatus)); fillSelect($("f-reason"), Object.keys(byReason));
  renderTable();
}

function fillSelect(sel, values) {
  const have = new Set([...sel.options].map((o) => o.value));
  for (const v of values.sort()) if (!have.has(v)) sel.append(el("option", { value: v, text: v.replace(/_/g, " ") }));
}

const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text != null) n.textContent = text;
  return n;
}

// chart draws horizontal bars with their counts; data-total holds the sum.
function chart(node, data, byStatus) {
  const rowH = 24; const w = 360; const label = 130; const max = Math.max(1, ...data.map((d) => d[1]));
  node.setAttribute("viewBox", "0 0 " + w + " " + Math.max(rowH, data.length * rowH));
  node.replaceChildren();
  let total = 0;
  data.forEach(([name, n], i) => {
    total += n;
    const y = i * rowH; const bw = Math.round((w - label - 50) * n / max);
    const g = svg("g", { "data-name": name, "data-count": String(n) });
    g.append(svg("text", { x: 0, y: y + 16 }, name.replace(/_/g, " ")));
    g.append(svg("rect", { x: label, y: y + 4, width: Math.max(bw, n ? 2 : 0), height: rowH - 8, rx: 3, class: "bar", fill: byStatus ? colour(name) : "#0a58ca" }));
    g.append(svg("text", { x: label + bw + 6, y: y + 16 }, String(n)));
    node.append(g);
  });
  node.dataset.total = String(total);
}

function colour(status) {
  return { deliverable: "#116329", risky: "#8a4b00", undeliverable: "#a40e26", unknown: "#424a53" }[status] || "#0a58ca";
}

const PAGE = 50;
function filtered() {
  const st = $("f-status").value; const rs = $("f-reason").value; const q = $("f-search").value.trim().toLowerCase();
  return [...state.results.entries()].sort((a, b) => a[0] - b[0]).filter(([, r]) =>
    (!st || r.status === st) && (!rs || r.reason === rs) && (!q || (r.input || "").toLowerCase().includes(q)));
}

function renderTable() {
  const rows = filtered(); const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const slice = rows.slice(state.page * PAGE, state.page * PAGE + PAGE);
  $("results").tBodies[0].replaceChildren(...slice.map(([i, r]) => {
    const notes = [];
    if (r.suggestion) notes.push("did you mean …@" + r.suggestion + "?");
    if (r.disposable) notes.push("disposable"); if (r.role_account) notes.push("role"); if (r.free_provider) notes.push("free");
    return el("tr", {}, el("td", { text: String(i + 1) }), el("td", { text: r.input }),
      el("td", { class: "st-" + r.status, text: r.status }), el("td", { text: r.reason.replace(/_/g, " "), title: words(r.reason)[0] }),
      el("td", { text: notes.join(", ") }));
  }));
  $("page-info").textContent = "Page " + (state.page + 1) + " of " + pages + " (" + rows.length + " rows)";
  $("prev").disabled = state.page === 0; $("next").disabled = state.page >= pages - 1;
}

// --- downloads ---------------------------------------------------------
const csvCell = (v) => /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
const csvLine = (cells) => cells.map((c) => csvCell(String(c ?? ""))).join(",") + "\r\n";
const VERDICT = ["mv_status", "mv_reason", "mv_suggestion", "mv_catch_all", "mv_disposable", "mv_role_account", "mv_free_provider"];
const verdict = (r) => r ? [r.status, r.reason, r.suggestion || "", r.catch_all, r.disposable, r.role_account, r.free_provider] : VERDICT.map(() => "");

function kept() {
  const want = new Set([...$("keep").querySelectorAll("input:checked")].map((i) => i.value));
  return (r) => want.has(r.status) || (r.status === "risky" && want.has(r.reason === "catch_all" ? "risky:catch_all" : "risky:other"));
}

// exportCSV is the original file with the verdict columns appended.
function exportCSV() {
  const header = state.header || ["address"];
  let out = csvLine([...header, ...VERDICT]);
  state.rows.forEach((row, i) => { if (row.length === 1 && row[0] === "" && !state.results.has(i)) return; out += csvLine([...row, ...verdict(state.results.get(i))]); });
  return out;
}

// exportKept is the rows whose result is kept, with the verdict columns.
function exportKept() {
  const keep = kept(); const header = state.header || ["address"];
  let out = csvLine([...header, ...VERDICT]);
  state.rows.forEach((row, i) => { const r = state.results.get(i); if (r && keep(r)) out += csvLine([...row, ...verdict(r)]); });
  return out;
}

function exportNDJSON() {
  const keep = kept();
  return [...state.results.entries()].sort((a, b) => a[0] - b[0]).filter(([, r]) => keep(r)).map(([, r]) => JSON.stringify(r)).join("\n") + "\n";
}

function download(name, type, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a); a.click(); a.remove();
}

const base = () => (state.file ? state.file.name.replace(/\.[^.]*$/, "") : "results");

// --- jobs --------------------------------------------------------------
async function refreshJobs() {
  try {
    const { jobs } = await (await api("GET", "/v1/jobs")).json();
    $("jobs-empty").hidden = jobs.length > 0;
    $("jobs").tBodies[0].replaceChildren(...jobs.map((j) => {
      const c = j.counts || {};
      const act = el("td");
      if (j.state === "queued" || j.state === "running") {
        const b = el("button", { type: "button", class: "secondary", text: "Cancel" });
        b.onclick = () => cancel(j.id); act.append(b);
      }
      const dl = el("button", { type: "button", class: "secondary", text: "Results (CSV)" });
      dl.onclick = async () => {
        try { download("job-" + j.id + ".csv", "text/csv", await (await api("GET", "/v1/jobs/" + j.id + "/results?limit=10000", { accept: "text/csv" })).text()); } catch (e) { showError(e); }
      };
      act.append(" ", dl);
      return el("tr", { "data-id": j.id }, el("td", { text: new Date(j.created).toLocaleString() }), el("td", { text: j.state }),
        el("td", { text: j.done + " / " + j.total }), el("td", { text: String(c.deliverable || 0) }), el("td", { text: String(c.risky || 0) }),
        el("td", { text: String(c.undeliverable || 0) }), el("td", { text: String(c.unknown || 0) }), act);
    }));
  } catch (e) { showError(e); }
}

async function cancel(id) {
  try { await api("DELETE", "/v1/jobs/" + id); refreshJobs(); } catch (e) { showError(e); }
}

// --- wiring ------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("one-form").addEventListener("submit", checkOne);
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) pickFile(e.target.files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) pickFile(e.dataTransfer.files[0]); });
  $("column").addEventListener("change", () => { const n = addresses().length; $("file-info").textContent = state.file.name + ": " + n + " addresses"; $("start").disabled = !n; if (!n) showError(new Error("The chosen column has no addresses.")); else showError(null); });
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", () => state.job && cancel(state.job.id));
  for (const id of ["f-status", "f-reason"]) $(id).addEventListener("change", () => { state.page = 0; renderTable(); });
  $("f-search").addEventListener("input", () => { state.page = 0; renderTable(); });
  $("prev").addEventListener("click", () => { state.page--; renderTable(); });
  $("next").addEventListener("click", () => { state.page++; renderTable(); });
  $("dl-all").addEventListener("click", () => download(base() + "-verified.csv", "text/csv", exportCSV()));
  $("dl-kept-csv").addEventListener("click", () => download(base() + "-kept.csv", "text/csv", exportKept()));
  $("dl-kept-ndjson").addEventListener("click", () => download(base() + "-kept.ndjson", "application/x-ndjson", exportNDJSON()));
  refreshJobs();
});
})();
