// The time a list takes at the service's politeness (GET /v1/politeness),
// estimated before the upload from what the page read of the file. Which
// domains share mail servers is known only after their DNS lookups, so
// the estimate takes each domain as having its own and says so.
import { count, duration, num } from "./format.js";

// SETUP is the seconds a domain costs besides its addresses: the DNS
// lookups, the connection, the greeting and the catch-all check.
export const SETUP = 2;

// seconds estimates a list's time: each domain takes SETUP plus its
// addresses (and one catch-all probe) at the per-server rate; at most
// `sessions` domains go at once. The biggest domain, or the work shared
// among the sessions, sets the time, whichever is longer.
export function seconds(perDomain, p) {
  let longest = 0; let sum = 0;
  for (const n of perDomain.values()) {
    const t = SETUP + (n + 1) / p.per_server_rate;
    longest = Math.max(longest, t); sum += t;
  }
  return Math.max(longest, sum / Math.max(1, p.sessions));
}

// words says the estimate and what it assumes.
export function words(perDomain, p) {
  if (!perDomain.size) return "";
  const secs = seconds(perDomain, p);
  return "Estimated time: about " + duration(Math.max(1, secs)) + " for " + count(perDomain.size, "domain") +
    ". This assumes each domain has mail servers of its own, checked at this service\u2019s pace: at most " +
    num(p.per_server_rate) + " addresses a second to one mail server, " + count(p.sessions, "mail server") +
    " at once, and about " + SETUP + " s per domain to look it up and connect. Domains that share a provider" +
    " (Google Workspace, Microsoft 365) share its pace, which takes longer; servers that greylist add retries for up to " +
    duration(p.greylist_budget_seconds) + ".";
}
