// Reading a list file as the server does (internal/csvsniff): the
// encoding, the separator, the records, the address column. The page
// reads the file for the preview and the analysis; the server reads the
// upload again, the same way, for the job.

export const SEPARATORS = { ",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe" };
const ENC_WORDS = { "utf-8": "UTF-8", "utf-8-bom": "UTF-8 with a byte-order mark", "utf-16le": "UTF-16 (little-endian)", "utf-16be": "UTF-16 (big-endian)", "windows-1252": "Windows-1252" };
const SEP_WORDS = { ",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe" };

// encoding names the encoding of a file's bytes.
export function encoding(bytes) {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8-bom";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  try { new TextDecoder("utf-8", { fatal: true }).decode(bytes); return "utf-8"; } catch (e) { return "windows-1252"; }
}

// decode returns the text of a file's bytes, without a byte-order mark.
export function decode(bytes, enc) {
  const label = { "utf-8-bom": "utf-8", "utf-16le": "utf-16le", "utf-16be": "utf-16be", "windows-1252": "windows-1252" }[enc] || "utf-8";
  return new TextDecoder(label).decode(bytes); // TextDecoder drops the BOM
}

function sampleLines(text, n) {
  const out = []; let q = false; let start = 0;
  for (let i = 0; i < text.length && out.length < n; i++) {
    const c = text[i];
    if (c === '"') q = !q;
    else if (c === "\n" && !q) { const l = text.slice(start, i).replace(/\r$/, ""); if (l.trim()) out.push(l); start = i + 1; }
  }
  if (!out.length && text.slice(start).trim()) out.push(text.slice(start));
  return out;
}

// separator picks the separator that splits the most lines into the same
// number of fields, counting outside quotes; a comma when none does.
export function separator(text) {
  const lines = sampleLines(text.slice(0, 65536), 50);
  let best = ","; let bestScore = 0;
  for (const sep of Object.keys(SEPARATORS)) {
    const counts = new Map();
    for (const l of lines) {
      let n = 0; let q = false;
      for (const c of l) { if (c === '"') q = !q; else if (c === sep && !q) n++; }
      if (n > 0) counts.set(n, (counts.get(n) || 0) + 1);
    }
    let score = 0;
    for (const [n, c] of counts) score = Math.max(score, c * 64 + Math.min(n, 63));
    if (score > bestScore) { best = sep; bestScore = score; }
  }
  return best;
}

// parse reads CSV text with a separator: quoted fields, doubled quotes,
// quotes inside unquoted fields taken as they are, CRLF or LF, blank
// lines skipped. limit stops after that many records.
export function parse(text, sep, limit = Infinity) {
  const rows = []; let row = []; let f = ""; let q = false; let i = 0; let any = false;
  for (; i < text.length && rows.length < limit; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') { if (text[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += c;
    } else if (c === '"' && f === "" && !any) { q = true; any = true; }
    else if (c === sep) { row.push(f); f = ""; any = false; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      if (row.length || f !== "" || any) rows.push([...row, f]);
      row = []; f = ""; any = false;
    } else { f += c; any = true; }
  }
  if (q && rows.length < limit) throw new Error("The file has a quoted cell that never ends.");
  if ((row.length || f !== "" || any) && rows.length < limit) rows.push([...row, f]);
  return rows;
}

// address returns the address in a cell: trimmed, the part in angle
// brackets of "Jane Doe <jane@example.com>", a mailto: link's address.
export function address(cell) {
  let s = (cell || "").replace(/^[\s\ufeff\u00a0]+|[\s\ufeff\u00a0]+$/g, "");
  const lt = s.lastIndexOf("<");
  if (lt >= 0 && s.endsWith(">") && s.slice(lt).includes("@")) s = s.slice(lt + 1, -1).trim();
  if (/^mailto:/i.test(s)) s = s.slice(7).split("?")[0].trim();
  return s;
}

const HEADER_NAMES = ["email", "e-mail", "email address", "e-mail address", "e-mail-adresse", "emailadresse", "mail", "courriel", "correo", "address"];

function count(rows, col) {
  let at = 0; let n = 0;
  for (const r of rows) { const v = address(r[col]); if (v) { n++; if (v.includes("@")) at++; } }
  return [at, n];
}
const holds = (rows, col) => { const [at, n] = count(rows, col); return n === 0 || 2 * at >= n; };

// pickColumn returns the address column as the server picks it.
export function pickColumn(header, rows) {
  const norm = (header || []).map((h) => h.trim().toLowerCase());
  for (const want of HEADER_NAMES) { const i = norm.indexOf(want); if (i >= 0 && holds(rows, i)) return i; }
  const i = norm.findIndex((h, j) => h.includes("mail") && holds(rows, j));
  if (i >= 0) return i;
  let best = 0; let bestN = 0;
  const width = Math.max(0, ...rows.map((r) => r.length));
  for (let c = 0; c < width; c++) { const [at] = count(rows, c); if (at > bestN) { best = c; bestN = at; } }
  return best;
}

// looksLikeHeader: the first record's address column has no @.
export const looksLikeHeader = (first, col) => !(first[col] || "").includes("@");

// checkColumn says why a column is not an address column, or "".
export function checkColumn(rows, col, name) {
  const sample = rows.slice(0, 1000); const [at, n] = count(sample, col);
  if (!n) return "Column " + name + " is empty. Choose the column with the addresses.";
  if (2 * at < n) return "Column " + name + " does not hold addresses: " + at + " of its first " + n + " values have an @. Choose the column with the addresses, or check \u201cFirst row is a header\u201d.";
  return "";
}

// read decodes and parses a file's bytes.
export function read(bytes) {
  const enc = encoding(bytes); const text = decode(bytes, enc);
  if (text.includes("\u0000")) throw new Error("This is not a text file.");
  const sep = separator(text);
  return { enc, sep, rows: parse(text, sep), describe: SEP_WORDS[sep] + "-separated, " + ENC_WORDS[enc] };
}

// analyse counts what a column holds: addresses, duplicates (any case),
// values that cannot be addresses, domains.
// byDomain and allByDomain count the different addresses, and all of
// them, per domain (for the time estimate).
export function analyse(rows, col) {
  const seen = new Set(); const byDomain = new Map(); const allByDomain = new Map(); let addrs = 0; let dups = 0; let bad = 0;
  const add = (m, d) => m.set(d, (m.get(d) || 0) + 1);
  for (const r of rows) {
    const a = address(r[col]); if (!a) continue;
    addrs++;
    const k = a.toLowerCase(); const at = a.lastIndexOf("@");
    const ok = !(at <= 0 || at === a.length - 1 || /\s/.test(a) || !a.slice(at + 1).includes("."));
    if (ok) add(allByDomain, k.slice(at + 1));
    if (seen.has(k)) { dups++; continue; }
    seen.add(k);
    if (!ok) bad++;
    else add(byDomain, k.slice(at + 1));
  }
  return { rows: rows.length, addrs, dups, bad, domains: byDomain.size, unique: addrs - dups, byDomain, allByDomain };
}
