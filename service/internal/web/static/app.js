// The mailverify page: plain JavaScript modules, no build step, no
// network but this service's API.
import { $, el, api, upload, showError } from "./api.js";
import { words, RISKS } from "./words.js";
import { num, count, bytes } from "./format.js";
import * as list from "./list.js";
import { run, follow, renderTable, resetFilters, clearProgress, notes, stop } from "./run.js";
import { refreshJobs, downloadFile, last, on } from "./jobs.js";
import { refreshEgress } from "./egress.js";
import * as estimate from "./estimate.js";

// --- check one address -------------------------------------------------
function renderOne(r) {
  const [meaning, advice] = words(r.reason);
  const flags = [];
  if (r.disposable && !r.suggestion) flags.push("disposable"); // a typo domain is a typo first
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
  if (flags.length) card.append(el("p", { id: "one-flags" }, ...flags.map((f) => el("span", { class: "chip", text: f }))));
  if (r.mx_hosts && r.mx_hosts.length) card.append(el("p", { text: "Mail servers: " + r.mx_hosts.join(", ") }));
  if (r.smtp) card.append(el("p", { text: "Server said: " + r.smtp.code + " " + (r.smtp.enhanced_code || "") + " " + (r.smtp.message || "") }));
  if (r.retry_after) card.append(el("p", { class: "muted", text: "Try again in " + r.retry_after + " s." }));
  if (r.transcript && r.transcript.length) card.append(el("details", {}, el("summary", { text: "Show conversation" }), el("pre", { text: r.transcript.join("\n") })));
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

// --- a list: read, preview, check, start --------------------------------
const state = { file: null, read: null, header: true, col: 0, ready: false, xlsx: false };

async function pickFile(file) {
  showError(null); stop(); resetFilters(); clearProgress();
  Object.assign(state, { file, read: null, ready: false });
  $("breakdown").hidden = true; $("progress-box").hidden = true; $("setup").hidden = true; $("start").disabled = true;
  $("upload-info").textContent = ""; $("file-info").textContent = "Reading " + file.name + "\u2026";
  try {
    state.xlsx = /\.xlsx$/i.test(file.name);
    if (state.xlsx) return workbook(file);
    if (!/\.(csv|txt|tsv)$/i.test(file.name) && !/^text\//.test(file.type)) throw new Error(file.name + " is not a .csv, .txt or .xlsx file.");
    const r = list.read(new Uint8Array(await file.arrayBuffer()));
    if (!r.rows.length) throw new Error(file.name + " has no rows.");
    state.read = r;
    // Decide the header and the column as the server does.
    const col = list.pickColumn(null, r.rows.slice(0, 1000));
    state.header = r.rows.length > 1 && list.looksLikeHeader(r.rows[0], col);
    $("header").checked = state.header;
    state.col = list.pickColumn(state.header ? r.rows[0] : null, data().slice(0, 1000));
    $("format").textContent = r.describe + ".";
    $("file-info").textContent = file.name + ", " + bytes(file.size);
    $("setup").hidden = false; $("csv-only").hidden = false;
    columns(); update();
  } catch (e) { $("file-info").textContent = ""; showError(e); }
}

// workbook: an .xlsx file is read by the server (its first sheet); the
// page shows no preview of it.
function workbook(file) {
  $("format").textContent = "Excel workbook: the server reads its first sheet, decides the header and picks the address column.";
  $("file-info").textContent = file.name + ", " + bytes(file.size);
  $("csv-only").hidden = true; $("check").hidden = true; $("dupes").textContent = "";
  $("setup").hidden = false;
  state.ready = true; $("start").disabled = false;
}

const data = () => (state.header ? state.read.rows.slice(1) : state.read.rows);
const colName = (i) => (state.header && (state.read.rows[0][i] || "").trim()) || "column " + (i + 1);

function columns() {
  const width = Math.max(...state.read.rows.slice(0, 100).map((r) => r.length));
  $("column").replaceChildren(...Array.from({ length: width }, (_, i) => el("option", { value: String(i), text: colName(i) })));
  $("column").value = String(state.col);
}

// update redraws the preview and the analysis, and allows Start only
// when the column holds addresses.
function update() {
  const rows = data(); const c = state.col; const width = $("column").options.length;
  const head = el("tr", {}, ...Array.from({ length: width }, (_, i) => el("th", { scope: "col", class: i === c ? "chosen" : "", text: colName(i) + (i === c ? " (addresses)" : "") })));
  $("preview").tHead.replaceChildren(head);
  $("preview").tBodies[0].replaceChildren(...rows.slice(0, 5).map((r) => el("tr", {}, ...Array.from({ length: width }, (_, i) => el("td", { class: i === c ? "chosen" : "", text: r[i] || "" })))));
  const a = list.analyse(rows, c);
  $("analysis").textContent = count(a.rows, "row") + ", " + count(a.addrs, "value") + " to check (" + num(a.unique) + " different) at " +
    count(a.domains, "domain") + (a.bad ? "; " + num(a.bad) + " cannot be an address" : "") + ".";
  $("dupes").textContent = a.dups ? "(" + count(a.dups, "duplicate") + " in this file)" : "(no duplicates in this file)";
  const why = list.checkColumn(rows, c, "\u201c" + colName(c) + "\u201d");
  $("check").textContent = why; $("check").hidden = !why;
  state.ready = !why && a.addrs > 0;
  $("start").disabled = !state.ready;
  state.analysis = a;
  showEstimate();
}

// showEstimate says how long the list takes at the service's pace, once
// the pace is known; with "Check each address once" off, repeats count.
function showEstimate() {
  const a = state.analysis;
  $("estimate").textContent = a && state.pace && !state.xlsx ? estimate.words($("dedupe").checked ? a.byDomain : a.allByDomain, state.pace) : "";
}

async function readPace() {
  try { state.pace = await (await api("GET", "/v1/politeness")).json(); showEstimate(); } catch (e) { /* no estimate */ }
}

async function start() {
  if (!state.ready) return;
  showError(null);
  $("start").disabled = true; state.ready = false;
  const q = new URLSearchParams(state.xlsx ? { name: state.file.name, dedupe: String($("dedupe").checked) } : { name: state.file.name,
    column: String(state.col + 1), header: String(state.header), dedupe: String($("dedupe").checked), separator: list.SEPARATORS[state.read.sep], encoding: state.read.enc });
  try {
    $("upload-info").textContent = "Uploading " + state.file.name + "\u2026";
    const job = await upload("/v1/lists?" + q, state.file, (f) => { $("upload-info").textContent = "Uploading " + state.file.name + ": " + Math.floor(100 * f) + "%"; });
    $("upload-info").textContent = "Uploaded; " + count(job.total, "address", "addresses") + " to check" +
      (job.file && job.file.dedupe && job.file.duplicates ? ", " + count(job.file.duplicates, "duplicate") + " skipped" : "") +
      (job.file && job.file.sheet ? ", from column " + job.file.column + " of sheet " + job.file.sheet : "") + ".";
    follow(job); refreshJobs();
  } catch (e) { $("upload-info").textContent = ""; showError(e); state.ready = true; $("start").disabled = false; }
}

function followAgain(job) { $("upload-info").textContent = "Checking " + count(job.total, "unknown address", "unknown addresses") + " again."; follow(job); refreshJobs(); }

const kept = () => [...$("keep").querySelectorAll("input:checked")].map((i) => i.value);

// Resume the job this tab followed before a reload.
async function resume() {
  const id = sessionStorage.getItem("mailverify-job"); if (!id) return;
  try { follow(await (await api("GET", "/v1/jobs/" + id)).json()); } catch (e) { sessionStorage.removeItem("mailverify-job"); }
}

// show follows a job picked in the jobs list.
function show(job) {
  stop(); state.ready = false; $("start").disabled = true; $("setup").hidden = true;
  $("upload-info").textContent = "Showing " + (job.file ? job.file.name : "job " + job.id.slice(0, 8)) + ".";
  follow(job);
  $("progress-box").scrollIntoView({ block: "nearest" });
}

window.mailverify = { state, run, list, last, notes, estimate };

document.addEventListener("DOMContentLoaded", () => {
  $("one-form").addEventListener("submit", checkOne);
  $("error-close").addEventListener("click", () => showError(null));
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) pickFile(e.target.files[0]); e.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) pickFile(e.dataTransfer.files[0]); });
  $("header").addEventListener("change", () => {
    state.header = $("header").checked;
    state.col = list.pickColumn(state.header ? state.read.rows[0] : null, data().slice(0, 1000));
    columns(); update();
  });
  $("column").addEventListener("change", () => { state.col = Number($("column").value); update(); });
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", async () => { try { if (run.job) await api("POST", "/v1/jobs/" + run.job.id + "/cancel"); refreshJobs(); } catch (e) { showError(e); } });
  for (const id of ["f-status", "f-reason"]) $(id).addEventListener("change", () => { run.page = 0; renderTable(); });
  $("f-search").addEventListener("input", () => { run.page = 0; renderTable(); });
  $("prev").addEventListener("click", () => { run.page--; renderTable(); });
  $("next").addEventListener("click", () => { run.page++; renderTable(); });
  $("dl-all").addEventListener("click", () => run.job && downloadFile(run.job, [], $("apply").checked).catch(showError));
  $("dl-kept").addEventListener("click", () => run.job && downloadFile(run.job, kept(), $("apply").checked).catch(showError));
  $("again").addEventListener("click", async () => { try { const { again } = await import("./jobs.js"); followAgain(await again(run.job)); } catch (e) { showError(e); } });
  run.onEnd = (j) => { $("again").hidden = !(j.state === "done" && (j.counts || {}).unknown); refreshJobs(); };
  on.again = followAgain; on.show = show;
  $("dedupe").addEventListener("change", showEstimate);
  refreshJobs();
  resume();
  readPace();
  refreshEgress();
  setInterval(refreshEgress, 15000);
});
