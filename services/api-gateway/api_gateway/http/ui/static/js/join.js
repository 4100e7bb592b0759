/**
 * "Join session": the form that POSTs a join request for a group, and the live status of a
 * group's last join request, polled every second until the request is closed or failed.
 */

import { path } from "./api.js";
import { el, field, setText, show } from "./dom.js";
import { formatTime, relative, shortTime } from "./format.js";

const POLL_MS = 1000;
// A request in one of these states changes no more.
const FINAL = new Set(["closed", "failed"]);
const COUNTS = ["targeted", "pending", "delivered", "joined", "failed", "expired"];

/** The one sentence a screen reader hears when the status changes. */
export function summary(status) {
  const name = `“${status.session_name}”`;
  const { targeted, joined, failed, expired } = status.counts;
  if (status.status === "failed") {
    const reason = status.reason ?? "the broker did not take the request";
    return `${name} failed: ${reason.replace(/\.$/, "")}.`;
  }
  if (status.status === "pending" && targeted === 0) {
    return `${name} is waiting for the dispatcher.`;
  }
  const state = status.status === "closed" ? "closed" : "in progress";
  if (targeted === 0) return `${name} ${state}: the group had no devices.`;
  const outcomes = [`${joined} of ${targeted} joined`];
  if (failed) outcomes.push(`${failed} failed`);
  if (expired) outcomes.push(`${expired} expired`);
  return `${name} ${state}: ${outcomes.join(", ")}.`;
}

/**
 * The modal form. submit(card, body) sends the request and resolves to the API's answer; it
 * rejects with an error that describe(error) turns into the line shown in the form.
 */
export class JoinDialog {
  constructor(dialog, { submit, describe }) {
    this.dialog = dialog;
    this.form = dialog.querySelector("form");
    this.error = dialog.querySelector("#join-error");
    this.target = dialog.querySelector("#join-target");
    this.sendButton = dialog.querySelector("#join-submit");
    this.submit = submit;
    this.describe = describe;
    this.card = null;
    dialog.querySelector("#join-cancel").addEventListener("click", () => this.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  open(card) {
    this.card = card;
    setText(this.target, `Every device of group ${card.group} in project ${card.project}.`);
    this.showError("");
    this.dialog.showModal();
    this.form.elements.session_id.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  showError(message) {
    setText(this.error, message);
    show(this.error, message !== "");
  }

  /** The request body, or a message saying which field is wrong. */
  read() {
    const fields = this.form.elements;
    const body = {
      project: this.card.project,
      group: this.card.group,
      session_id: fields.session_id.value.trim(),
      session_name: fields.session_name.value.trim(),
      deadline: fields.deadline.value.trim() || "60s",
    };
    if (!body.session_id) return { problem: "Enter a session id.", input: fields.session_id };
    if (!body.session_name) return { problem: "Enter a session name.", input: fields.session_name };
    const input = fields.session_metadata;
    let metadata;
    try {
      metadata = JSON.parse(input.value.trim() || "{}");
    } catch (error) {
      return { problem: `Session metadata is not JSON: ${error.message}`, input };
    }
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      return { problem: "Session metadata must be a JSON object, such as {}.", input };
    }
    return { body: { ...body, session_metadata: metadata } };
  }

  async send() {
    const { body, problem, input } = this.read();
    if (problem) {
      this.showError(problem);
      input.focus();
      return;
    }
    this.showError("");
    this.sendButton.disabled = true;
    try {
      await this.submit(this.card, body);
      this.close();
    } catch (error) {
      const message = this.describe(error);
      if (message) this.showError(message);
    } finally {
      this.sendButton.disabled = false;
    }
  }
}

/**
 * One group's "Last join request" panel. showLatest() finds the newest request; follow(id)
 * shows one and keeps polling it while it is open. onError(error) gets failures to report.
 */
export class JoinTracker {
  constructor(api, card, onError) {
    this.api = api;
    this.card = card;
    this.onError = onError;
    this.section = card.joinSection;
    this.following = null;
    this.timer = null;
    this.closed = false;
  }

  async showLatest() {
    const answer = await this.api.get("join-requests", {
      project: this.card.project,
      group: this.card.group,
      limit: 1,
    });
    const latest = answer.join_requests[0];
    // A request sent from this page meanwhile is newer than what the list knew.
    if (latest && this.following === null) this.follow(latest.join_request_id);
  }

  follow(id) {
    if (this.closed) return;
    this.stop();
    this.following = id;
    this.poll(id);
  }

  stop() {
    this.following = null;
    clearTimeout(this.timer);
  }

  /** Stop for good: the page was reloaded or the key forgotten; late answers are dropped. */
  close() {
    this.closed = true;
    this.stop();
  }

  async poll(id) {
    let again = true;
    try {
      const status = await this.api.get(path("join-requests", id));
      if (this.following !== id) return;
      this.render(status);
      again = !FINAL.has(status.status);
    } catch (error) {
      if (this.following !== id) return;
      // 401 and 404 will not heal by themselves; anything else (503, network) may.
      again = error.status !== 401 && error.status !== 404;
      this.onError(error);
      setText(field(this.section, "join-detail"), `Could not update the status: ${error.message}`);
    }
    if (again && this.following === id) {
      this.timer = setTimeout(() => this.poll(id), POLL_MS);
    }
  }

  render(status, now = Date.now()) {
    setText(field(this.section, "join-summary"), summary(status));
    const deadline = FINAL.has(status.status)
      ? `deadline ${shortTime(status.deadline, now)}`
      : `deadline ${relative(status.deadline, now)}`;
    setText(
      field(this.section, "join-detail"),
      `Session id ${status.session_id} · by ${status.requested_by} ` +
        `at ${shortTime(status.requested_at, now)} · ${deadline}`,
    );
    this.section.dataset.state = status.status;
    const list = field(this.section, "counts");
    list.replaceChildren(
      ...COUNTS.map((name) =>
        el(
          "li",
          { className: `count count-${name}${status.counts[name] ? "" : " count-zero"}` },
          el("span", { className: "count-n", text: String(status.counts[name]) }),
          el("span", { className: "count-label", text: ` ${name}` }),
        ),
      ),
    );
    show(list, true);
    this.renderDevices(status.devices ?? [], now);
  }

  renderDevices(devices, now) {
    const table = field(this.section, "join-devices");
    const caption = `Answers of the devices of group ${this.card.group}`;
    setText(field(this.section, "join-caption"), caption);
    field(this.section, "join-rows").replaceChildren(
      ...devices.map((device) =>
        el(
          "tr",
          { "data-device": device.device_id },
          el("th", { scope: "row", text: device.name ?? device.device_id }),
          el(
            "td",
            {},
            el("span", { className: `badge badge-${device.status}`, text: device.status }),
            device.reason ? el("span", { className: "reason", text: device.reason }) : "",
          ),
          el(
            "td",
            {},
            device.answered_at
              ? el("time", {
                  datetime: device.answered_at,
                  title: formatTime(device.answered_at),
                  text: shortTime(device.answered_at, now),
                })
              : el("span", { className: "hint", text: "—" }),
          ),
        ),
      ),
    );
    show(table, devices.length > 0);
  }
}
