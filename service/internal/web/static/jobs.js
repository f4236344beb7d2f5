// The jobs list: each job's file, progress and counts, and what can be
// done with it: download the file with verdicts or the kept rows (from
// the server, at any time, whatever the size), verify the unknowns again,
// cancel, delete.
import { $, el, api, save, showError } from "./api.js";
import { num, bytes } from "./format.js";

export const last = { download: null };

const fileName = (j) => (j.file ? j.file.name : "job " + j.id.slice(0, 8));

// downloadFile saves a job's file with verdicts, or the rows of some
// buckets (deliverable, catch_all, risky_other, undeliverable, unknown).
export async function downloadFile(j, buckets, apply) {
  const q = new URLSearchParams();
  if (buckets && buckets.length) q.set("status", buckets.join(","));
  if (apply) q.set("apply_suggestions", "true");
  const resp = await api("GET", "/v1/jobs/" + j.id + "/file" + (q.size ? "?" + q : ""));
  const { name, blob } = await save(resp, "results.csv");
  last.download = { name, text: await blob.text(), bytes: new Uint8Array(await blob.arrayBuffer()) };
  return last.download;
}

// again starts a job from a finished job's unknown rows: the same
// columns, with the verdict columns of the first run.
export async function again(j) {
  const resp = await api("GET", "/v1/jobs/" + j.id + "/file?status=unknown");
  const text = await resp.text();
  const base = j.file ? j.file.name.replace(/\.[^.]*$/, "") : "job-" + j.id.slice(0, 8);
  const q = new URLSearchParams({ name: base + "-unknowns.csv", header: j.file ? String(j.file.header) : "true", column: String(j.file ? j.file.column_index : 1), dedupe: "true" });
  return (await api("POST", "/v1/lists?" + q, { type: "text/csv", body: text })).json();
}

function button(text, label, onclick, cls = "secondary") {
  const b = el("button", { type: "button", class: cls, text, "aria-label": label });
  b.onclick = async () => { b.disabled = true; try { await onclick(b); } catch (e) { showError(e); } finally { b.disabled = false; } };
  return b;
}

// on holds what the page does to follow a job: again for a new job of a
// job's unknowns, show for a job picked in the list.
export const on = { again: null, show: null };

// armed is the job whose Delete was pressed once.
let armed = null;

export async function refreshJobs() {
  try {
    const { jobs } = await (await api("GET", "/v1/jobs")).json();
    $("jobs-empty").hidden = jobs.length > 0;
    $("jobs").tBodies[0].replaceChildren(...jobs.map((j) => row(j)));
  } catch (e) { showError(e); }
}

function row(j) {
  const c = j.counts || {}; const name = fileName(j);
  const act = el("td", { class: "actions" });
  if (j.state === "queued" || j.state === "running") {
    act.append(button("Cancel", "Cancel the job of " + name, async () => { await api("DELETE", "/v1/jobs/" + j.id); refreshJobs(); }));
  }
  act.append(button("Show", "Show the progress and results of " + name, async () => on.show(j)));
  act.append(button("File with verdicts", "File with verdicts: download " + name, () => downloadFile(j)));
  act.append(button("Deliverable rows", "Deliverable rows: download them from " + name, () => downloadFile(j, ["deliverable"])));
  if (j.state === "done" && c.unknown) {
    act.append(button("Verify unknowns again", "Verify unknowns again: those of " + name, async () => on.again(await again(j))));
  }
  // Delete asks again first; the question survives the list's redraws.
  const really = armed === j.id;
  act.append(button(really ? "Really delete?" : "Delete", really ? "Really delete? The job of " + name + " and its file go." : "Delete the job of " + name + " and its file", async (b) => {
    if (armed !== j.id) { armed = j.id; b.textContent = "Really delete?"; b.setAttribute("aria-label", "Really delete? The job of " + name + " and its file go."); return; }
    armed = null;
    await api("DELETE", "/v1/jobs/" + j.id + "/data");
    refreshJobs();
  }, "secondary danger"));
  const file = j.file ? el("td", {}, el("strong", { text: j.file.name }), el("br"),
    el("span", { class: "muted", text: "column " + j.file.column + ", " + bytes(j.file.size) +
      (j.file.duplicates ? ", " + num(j.file.duplicates) + (j.file.dedupe ? " duplicates skipped" : " duplicates") : "") })) : el("td", { class: "muted", text: "sent through the API" });
  return el("tr", { "data-id": j.id }, file, el("td", { text: new Date(j.created).toLocaleString() }), el("td", { text: j.state }),
    el("td", { text: num(j.done) + " of " + num(j.total) }), el("td", { text: num(c.deliverable || 0) }), el("td", { text: num(c.risky || 0) }),
    el("td", { text: num(c.undeliverable || 0) }), el("td", { text: num(c.unknown || 0) }), act);
}
