// The egress panel: the health of each way out (a source address or a
// proxy) per provider, from GET /v1/egress: healthy, throttled, blocked,
// since when, why (the server's reply), what to do and the next retry.
import { $, el, api } from "./api.js";
import { duration } from "./format.js";

const STATES = {
  healthy: "healthy", throttled: "throttled", soft_limited: "soft-limited", blocked: "blocked", half_open: "being tried again",
};

// way names an egress: its ID, and what it is when that says more.
function way(id, what) {
  if (!what || what === id) return id;
  return what.startsWith(id) ? what : id + " (" + what + ")";
}

const provider = (p) => (p.startsWith("server:") ? "mail server " + p.slice(7) : p);

function when(iso) {
  if (!iso) return "";
  const t = Date.parse(iso); const ago = (Date.now() - t) / 1000;
  return new Date(t).toLocaleString() + (ago >= 0 ? " (" + duration(ago) + " ago)" : "");
}

function next(p) {
  if (p.state === "healthy" || !p.until) return "\u2014";
  const left = (Date.parse(p.until) - Date.now()) / 1000;
  return left > 0 ? "in " + duration(left) : "now (a trial session first)";
}

function why(p) {
  const ev = p.evidence;
  if (!ev) return "";
  const r = ev.reply || {};
  const said = [r.code, r.enhanced_code, r.text].filter(Boolean).join(" ");
  return (ev.host ? ev.host + " said: " : "The server said: ") + "\u201c" + said + "\u201d" + (p.meaning ? " " + p.meaning : "");
}

// render draws the panel from a report of GET /v1/egress.
export function render(rep) {
  const what = new Map((rep.egresses || []).map((e) => [e.egress, e.what]));
  const pairs = rep.pairs || [];
  const rows = pairs.map((p) => el("tr", { "data-state": p.state },
    el("td", { text: way(p.egress, what.get(p.egress)) }),
    el("td", { text: provider(p.provider) }),
    el("td", { class: "eg-" + p.state, text: STATES[p.state] || p.state }),
    el("td", { text: when(p.since) }),
    el("td", { class: "why", text: why(p) }),
    el("td", { text: p.state === "healthy" ? "" : p.advice || "" }),
    el("td", { text: next(p) })));
  for (const [id, w] of what) {
    if (!pairs.some((p) => p.egress === id)) {
      rows.push(el("tr", { "data-state": "healthy" }, el("td", { text: way(id, w) }), el("td", { text: "all" }),
        el("td", { class: "eg-healthy", text: "healthy" }), el("td", {}), el("td", { text: "No mail server has refused it." }), el("td", {}), el("td", { text: "\u2014" })));
    }
  }
  $("egress").tBodies[0].replaceChildren(...rows);
  $("egress-wrap").hidden = rows.length === 0;
  const bad = pairs.filter((p) => p.state !== "healthy");
  const n = (s) => bad.filter((p) => p.state === s).length;
  const parts = ["blocked", "throttled", "soft_limited", "half_open"].filter((s) => n(s)).map((s) => n(s) + " " + STATES[s]);
  $("egress-summary").textContent = !rows.length
    ? "This service probes through one way out, and no mail server has throttled or blocked it."
    : bad.length ? "Some ways out need attention: " + parts.join(", ") + ". Their addresses go through the others, or end unknown with a time to retry; never undeliverable."
      : "Every way out is healthy.";
}

// refreshEgress reads the panel again; a failure is said in the panel
// (the error banner is for the work).
export async function refreshEgress() {
  try { render(await (await api("GET", "/v1/egress")).json()); } catch (e) {
    $("egress-summary").textContent = "The health of the ways out cannot be read now: " + String(e.message || e);
  }
}
