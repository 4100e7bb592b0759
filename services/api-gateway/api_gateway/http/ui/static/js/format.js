/** How times, counts and statuses read on the page. */

const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dated = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** "2 devices", "1 device". */
export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The local date and time of an RFC 3339 instant, in full. */
export function formatTime(iso) {
  return iso ? full.format(new Date(iso)) : "";
}

/** The same, short: the time of day for today, else the date and minute. */
export function shortTime(iso, now = Date.now()) {
  if (!iso) return "";
  const time = new Date(iso);
  return time.toDateString() === new Date(now).toDateString()
    ? clock.format(time)
    : dated.format(time);
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" without a time. */
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 5) return "just now";
  return `${span(seconds)} ago`;
}

/** "in 42 s" or "42 s ago" for an instant that may lie either side of now. */
export function relative(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  return seconds >= 0 ? `in ${span(seconds)}` : `${span(-seconds)} ago`;
}

// A no-break space keeps a number with its unit when a line wraps.
function span(seconds) {
  if (seconds < 90) return `${seconds}\u00a0s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}\u00a0min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)}\u00a0h`;
  return `${Math.round(seconds / 86400)}\u00a0d`;
}
