// A running job: progress redrawn from the job's status, the breakdown,
// and the results table, whose rows are fetched a page at a time in the
// background so that the progress never waits for them.
import { $, el, api, showError } from "./api.js";
import { num, count, duration, Rate } from "./format.js";
import { words } from "./words.js";

const STATUSES = ["deliverable", "risky", "undeliverable", "unknown"];
const PAGE = 50;

// gen counts the follows: a request answered after another follow began
// belongs to the job followed before, and is dropped.
export const run = { job: null, cursor: "0", results: new Map(), rate: new Rate(), page: 0, timer: 0, spoken: -1, onEnd: null, gen: 0 };

// follow shows a job's progress until it ends.
export function follow(job) {
  clearTimeout(run.timer);
  Object.assign(run, { job, cursor: "0", results: new Map(), rate: new Rate(), page: 0, spoken: -1, gen: run.gen + 1 });
  sessionStorage.setItem("mailverify-job", job.id);
  resetFilters(); clearProgress();
  $("progress-box").hidden = false; $("breakdown").hidden = false;
  poll();
}

// clearProgress forgets the last job's progress, so that nothing stale shows.
export function clearProgress() {
  for (const id of ["progress-text", "progress-note", "progress-live"]) $(id).textContent = "";
  $("bar").style.width = "0"; $("progress").setAttribute("aria-valuenow", "0");
  $("results").tBodies[0].replaceChildren(); $("again").hidden = true;
}

export function resetFilters() {
  for (const id of ["f-status", "f-reason"]) $(id).replaceChildren(el("option", { value: "", text: "all" }));
  $("f-search").value = ""; run.page = 0;
}

const ended = (j) => j.state === "done" || j.state === "canceled";

async function poll() {
  const id = run.job && run.job.id; if (!id) return;
  const gen = run.gen; const now = () => run.job && run.gen === gen;
  try {
    const j = await (await api("GET", "/v1/jobs/" + id)).json();
    if (!now()) return;
    run.job = j; run.rate.add(j.done);
    render();
    await more(id, now);
    if (!now()) return; // another job is followed now
    if (ended(j) && run.results.size >= j.done) { renderTable(); if (run.onEnd) run.onEnd(j); return; }
    run.timer = setTimeout(poll, ended(j) ? 50 : 1000);
  } catch (e) { if (now()) { showError(e); run.timer = setTimeout(poll, 3000); } }
}

// more fetches one page of new results, keyed by the row they came from.
async function more(id, now) {
  const resp = await api("GET", "/v1/jobs/" + id + "/results?limit=1000&after=" + run.cursor);
  const text = await resp.text();
  // Checked after the last wait: a job shown meanwhile must not take
  // this one's results and cursor.
  if (!now()) return;
  run.cursor = resp.headers.get("Mailverify-Cursor") || run.cursor;
  for (const line of text.split("\n")) if (line) { const r = JSON.parse(line); run.results.set(r.ref != null ? Number(r.ref) : r.index + 1, r); }
  if (text) renderTable();
}

function render() {
  const j = run.job; const done = j.done; const total = j.total || 1;
  const pct = Math.floor(100 * done / total);
  $("bar").style.width = pct + "%"; $("progress").setAttribute("aria-valuenow", String(pct));
  const rate = run.rate.perSecond(); const left = j.total - done;
  let text;
  if (j.state === "canceled") text = "Canceled at " + num(done) + " of " + count(j.total, "address", "addresses") + ".";
  else if (j.state === "done") text = "Done: " + count(j.total, "address", "addresses") + " checked.";
  else text = pct + "% \u2014 " + num(done) + " of " + count(j.total, "address", "addresses") + " checked" +
    (rate > 0 ? ", " + num(Math.round(rate * 10) / 10) + " a second, about " + duration(left / rate) + " left" : "") + ".";
  $("progress-text").textContent = text;
  $("progress-note").textContent = ended(j) ? "" : waiting(j);
  // The live region speaks at each quarter and at the end, not at every redraw.
  const step = ended(j) ? 4 : Math.floor(pct / 25);
  if (step !== run.spoken) { run.spoken = step; $("progress-live").textContent = text; }
  $("cancel").hidden = ended(j);
  chart($("chart-status"), STATUSES.map((s) => [s, (j.counts || {})[s] || 0]), true, "Results by status");
  chart($("chart-reason"), Object.entries(j.reasons || {}).sort((a, b) => b[1] - a[1]), false, "Results by reason");
}

// waiting says what holds a running job up: the addresses waiting for a
// greylisting retry, as the job counts them, or a stall.
function waiting(j) {
  const grey = j.greylisted || 0;
  if (grey > 0) {
    const left = j.next_retry ? (Date.parse(j.next_retry) - Date.now()) / 1000 : 0;
    return count(grey, "address", "addresses") + (grey === 1 ? " waits" : " wait") + " for a greylisting retry: " +
      (grey === 1 ? "its mail server" : "their mail servers") + " asked us to come back later" +
      (left >= 1 ? "; the next retry is in " + duration(left) : "; the next retry is due now") + ". They are checked again automatically.";
  }
  const stalled = run.rate.stalled();
  return j.done > 0 && j.done < j.total && stalled >= 15 ? "No progress for " + duration(stalled) + ": the mail servers are slow to answer." : "";
}

const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text != null) n.textContent = text;
  return n;
}

const COLOURS = { deliverable: "#116329", risky: "#8a4b00", undeliverable: "#a40e26", unknown: "#424a53" };

// chart draws horizontal bars with their counts; its label says them all
// for screen readers; data-total holds the sum.
function chart(node, data, byStatus, title) {
  const rowH = 24; const w = 360; const label = 130; const max = Math.max(1, ...data.map((d) => d[1]));
  node.setAttribute("viewBox", "0 0 " + w + " " + Math.max(rowH, data.length * rowH));
  node.replaceChildren();
  let total = 0;
  data.forEach(([name, n], i) => {
    total += n;
    const y = i * rowH; const bw = Math.round((w - label - 60) * n / max);
    const g = svg("g", { "data-name": name, "data-count": String(n) });
    g.append(svg("text", { x: 0, y: y + 16 }, name.replace(/_/g, " ")));
    g.append(svg("rect", { x: label, y: y + 4, width: Math.max(bw, n ? 2 : 0), height: rowH - 8, rx: 3, fill: byStatus ? COLOURS[name] : "#0a58ca" }));
    g.append(svg("text", { x: label + bw + 6, y: y + 16 }, num(n)));
    node.append(g);
  });
  node.dataset.total = String(total);
  node.setAttribute("aria-label", title + ": " + (data.length ? data.map(([k, n]) => k.replace(/_/g, " ") + " " + num(n)).join(", ") : "none yet"));
}

function fillSelect(sel, values) {
  const have = new Set([...sel.options].map((o) => o.value));
  for (const v of [...values].sort()) if (!have.has(v)) sel.append(el("option", { value: v, text: v.replace(/_/g, " ") }));
}

function filtered() {
  const st = $("f-status").value; const rs = $("f-reason").value; const q = $("f-search").value.trim().toLowerCase();
  return [...run.results.entries()].sort((a, b) => a[0] - b[0]).filter(([, r]) =>
    (!st || r.status === st) && (!rs || r.reason === rs) && (!q || (r.input || "").toLowerCase().includes(q)));
}

// notes are the chips of a result: a typo domain is a typo first, so it
// does not also say disposable.
export function notes(r) {
  const out = [];
  if (r.suggestion) out.push("did you mean " + (r.local_part || (r.input || "").split("@")[0]) + "@" + r.suggestion + "?");
  else if (r.disposable) out.push("disposable");
  if (r.role_account) out.push("role"); if (r.free_provider) out.push("free");
  return out;
}

export function renderTable() {
  const byStatus = new Set(); const byReason = new Set();
  for (const r of run.results.values()) { byStatus.add(r.status); byReason.add(r.reason); }
  fillSelect($("f-status"), byStatus); fillSelect($("f-reason"), byReason);
  const rows = filtered(); const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  run.page = Math.max(0, Math.min(run.page, pages - 1));
  const slice = rows.slice(run.page * PAGE, run.page * PAGE + PAGE);
  $("results").tBodies[0].replaceChildren(...slice.map(([i, r]) => el("tr", {},
    el("td", { class: "narrow-hide", text: num(i) }), el("td", { text: r.input }),
    el("td", { class: "st-" + r.status, text: r.status }), el("td", { text: r.reason.replace(/_/g, " "), title: words(r.reason)[0] }),
    el("td", { class: "narrow-hide", text: notes(r).join(", ") }))));
  $("page-info").textContent = "Page " + num(run.page + 1) + " of " + num(pages) + " (" + count(rows.length, "row") + ")";
  $("prev").disabled = run.page === 0; $("next").disabled = run.page >= pages - 1;
}

export function stop() { clearTimeout(run.timer); run.job = null; sessionStorage.removeItem("mailverify-job"); }
