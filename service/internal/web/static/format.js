// Numbers, counts and durations in words people read.
const nf = new Intl.NumberFormat();

// num writes a number with the reader's thousands separators.
export const num = (n) => nf.format(n);

// count writes "1 address", "1,234 addresses".
export function count(n, one, many) { return num(n) + " " + (n === 1 ? one : many || one + "s"); }

// duration writes seconds as "45 s", "3 min 20 s", "2 h 43 min".
export function duration(secs) {
  secs = Math.max(0, Math.round(secs));
  if (secs < 60) return secs + " s";
  const m = Math.floor(secs / 60); const s = secs % 60;
  if (m < 60) return m + " min" + (s && m < 10 ? " " + s + " s" : "");
  const h = Math.floor(m / 60);
  return h + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
}

// bytes writes a size: "812 bytes", "1.4 MB".
export function bytes(n) {
  if (n < 1000) return count(n, "byte");
  const units = ["kB", "MB", "GB"]; let u = -1;
  do { n /= 1000; u++; } while (n >= 1000 && u < units.length - 1);
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(n) + " " + units[u];
}

// A Rate estimates the time left from the recent pace: the last minute of
// progress samples, not the average since the start.
export class Rate {
  constructor(window = 60) { this.window = window * 1000; this.samples = []; }
  add(done, at = Date.now()) {
    this.samples.push([at, done]);
    while (this.samples.length > 2 && at - this.samples[0][0] > this.window) this.samples.shift();
  }
  // perSecond is the recent rate, 0 when nothing moved.
  perSecond() {
    if (this.samples.length < 2) return 0;
    const [t0, d0] = this.samples[0]; const [t1, d1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? (d1 - d0) * 1000 / (t1 - t0) : 0;
  }
  // stalled is how long, in seconds, since the count last moved.
  stalled(at = Date.now()) {
    const last = this.samples[this.samples.length - 1]; if (!last) return 0;
    let i = this.samples.length - 1;
    while (i > 0 && this.samples[i - 1][1] === last[1]) i--;
    return (at - this.samples[i][0]) / 1000;
  }
}
