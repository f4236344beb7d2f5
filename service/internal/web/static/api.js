// The API, the token, the error banner and small DOM helpers.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") n.className = v; else if (k === "text") n.textContent = v; else n.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) n.append(k);
  return n;
}

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

// unreachable marks the banner's error as the server's absence, which
// the next answer from the server clears.
let unreachable = false;
const UNREACHABLE = "The server cannot be reached. Is mailverify serve still running?";

export function showError(e) {
  const b = $("error");
  $("error-text").textContent = e ? String(e.message || e) : "";
  b.hidden = !e;
  unreachable = !!e && String(e.message || e) === UNREACHABLE;
}

function answered() { if (unreachable) showError(null); }

async function problem(status, detail, read) {
  try { const p = await read(); detail = p.detail || p.title || detail; } catch (e) { /* not a problem body */ }
  return new Error(detail + " (HTTP " + status + ")");
}

export async function api(method, path, opts = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = {};
    if (opts.type) headers["Content-Type"] = opts.type;
    if (opts.accept) headers.Accept = opts.accept;
    if (token) headers.Authorization = "Bearer " + token;
    let resp;
    try {
      resp = await fetch(path, { method, headers, body: opts.body });
    } catch (e) {
      throw new Error(UNREACHABLE);
    }
    answered();
    if (resp.status === 401) { await askToken(); continue; }
    if (!resp.ok) throw await problem(resp.status, resp.statusText, () => resp.json());
    return resp;
  }
  throw new Error("The token was not accepted.");
}

// upload sends a file with XMLHttpRequest, which reports the upload's
// progress (fetch does not): onProgress gets the fraction sent.
export async function upload(path, file, onProgress) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const xhr = new XMLHttpRequest();
    const done = new Promise((resolve, reject) => {
      xhr.onload = () => resolve();
      xhr.onerror = () => reject(new Error(UNREACHABLE));
    });
    xhr.open("POST", path);
    xhr.setRequestHeader("Content-Type", "text/csv");
    if (token) xhr.setRequestHeader("Authorization", "Bearer " + token);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.send(file);
    await done;
    answered();
    if (xhr.status === 401) { await askToken(); continue; }
    if (xhr.status < 200 || xhr.status > 299) throw await problem(xhr.status, xhr.statusText, () => JSON.parse(xhr.responseText));
    return JSON.parse(xhr.responseText);
  }
  throw new Error("The token was not accepted.");
}

// save downloads a response's body as a file named as the server says.
export async function save(resp, fallback) {
  const cd = resp.headers.get("Content-Disposition") || "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  const name = m ? decodeURIComponent(m[1]) : fallback;
  const blob = await resp.blob();
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  return { name, blob };
}
