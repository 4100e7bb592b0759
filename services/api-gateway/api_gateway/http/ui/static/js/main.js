/**
 * The page's controller: ask for an API key, load the fleet, keep presence fresh, and route
 * every API failure to where the operator sees it (401 asks for the key again).
 */

import { Api, ApiError, path } from "./api.js";
import { setText, show } from "./dom.js";
import { renderFleet, updateDevices } from "./fleet.js";
import { JoinDialog, JoinTracker } from "./join.js";

// sessionStorage: the key lives as long as this tab, is never shared with other tabs, and is
// never put in a URL, where history, logs and Referer headers would keep it.
const KEY_STORAGE = "iot.api-key";
const PRESENCE_REFRESH_MS = 10_000;

/** The line to show for a failed call, doing = what was attempted ("start a join"). */
function describe(error, doing) {
  if (!(error instanceof ApiError)) return `Could not ${doing}: ${error.message}`;
  switch (error.status) {
    case 0:
      return `Could not ${doing}: the gateway could not be reached.`;
    case 403:
      return `Your key's role may not ${doing}: ${error.detail}.`;
    case 404:
      return `Could not ${doing}: ${error.detail} (it may have been removed; try Refresh).`;
    case 422:
      return `The request is invalid: ${error.detail}`;
    default:
      return `Could not ${doing}: ${error.detail}`;
  }
}

class App {
  constructor() {
    this.api = null;
    this.cards = new Map();
    this.trackers = [];
    this.refreshTimer = null;
    this.element = (id) => document.getElementById(id);
    this.banner = this.element("banner");
    this.keyForm = this.element("key-form");
    this.keyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = this.keyForm.elements["api-key"].value.trim();
      if (key) this.signIn(key);
      else this.askForKey("Enter an API key.");
    });
    this.element("forget-key").addEventListener("click", () => this.askForKey(""));
    this.element("refresh").addEventListener("click", () => this.load());
    this.dialog = new JoinDialog(this.element("join-dialog"), {
      submit: (card, body) => this.startJoin(card, body),
      describe: (error) => this.explain(error, "start a join"),
    });
  }

  start() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) this.signIn(key);
    else this.askForKey("");
  }

  /** Forget the key and everything loaded with it; show the prompt with message. */
  askForKey(message) {
    this.stop();
    sessionStorage.removeItem(KEY_STORAGE);
    this.api = null;
    this.dialog.close();
    show(this.element("identity"), false);
    show(this.element("fleet"), false);
    this.element("projects").replaceChildren();
    this.showBanner("");
    setText(this.element("key-message"), message);
    show(this.element("key-prompt"), true);
    this.keyForm.reset();
    this.keyForm.elements["api-key"].focus();
  }

  async signIn(key) {
    const api = new Api(key);
    let who;
    try {
      who = await api.get("whoami");
    } catch (error) {
      const reason =
        error instanceof ApiError && error.status === 401
          ? `The API refused this key: ${error.detail}.`
          : describe(error, "check the key");
      this.askForKey(reason);
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    this.api = api;
    setText(this.element("whoami"), `${who.name} · ${who.role}`);
    const prompt = this.element("key-prompt");
    // Focus was in the form that is going away: move it to the content, not to the page's end.
    if (!prompt.hidden) this.element("main").focus();
    show(prompt, false);
    show(this.element("identity"), true);
    show(this.element("fleet"), true);
    await this.load();
  }

  stop() {
    clearTimeout(this.refreshTimer);
    for (const tracker of this.trackers) tracker.close();
    this.trackers = [];
  }

  /** Everything anew: projects, groups, devices and each group's last join request. */
  async load() {
    if (!this.api) return;
    this.stop();
    const api = this.api;
    let projects;
    try {
      const { projects: listed } = await api.get("projects");
      projects = await Promise.all(listed.map((project) => this.project(api, project.id)));
    } catch (error) {
      this.report(error, "load the projects");
      // Try the whole load again later (a 401 has forgotten the key: then nothing is retried).
      if (api === this.api) this.refreshTimer = setTimeout(() => this.load(), PRESENCE_REFRESH_MS);
      return;
    }
    if (api !== this.api) return;
    this.showBanner("");
    show(this.element("no-projects"), projects.length === 0);
    this.cards = renderFleet(this.element("projects"), projects, (card) => this.dialog.open(card));
    this.trackers = [...this.cards.values()].map((card) => {
      const tracker = new JoinTracker(api, card, (error) =>
        this.report(error, "read the join status"),
      );
      card.tracker = tracker;
      return tracker;
    });
    this.updated();
    await Promise.all(
      this.trackers.map((tracker) =>
        tracker.showLatest().catch((error) => this.report(error, "read the last join request")),
      ),
    );
    if (api === this.api) this.scheduleRefresh();
  }

  async project(api, id) {
    const [detail, { devices }] = await Promise.all([
      api.get(path("projects", id)),
      api.get(path("projects", id, "devices")),
    ]);
    return { ...detail, devices };
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refreshPresence(), PRESENCE_REFRESH_MS);
  }

  /** Only the device rows (presence, last seen): forms and followed requests stay as they are. */
  async refreshPresence() {
    const api = this.api;
    if (!api) return;
    const projects = new Set([...this.cards.values()].map((card) => card.project));
    try {
      for (const project of projects) {
        const { devices } = await api.get(path("projects", project, "devices"));
        if (api !== this.api) return;
        updateDevices(this.cards, project, devices);
      }
      this.showBanner("");
      this.updated();
    } catch (error) {
      this.report(error, "refresh presence");
    }
    if (api === this.api) this.scheduleRefresh();
  }

  async startJoin(card, body) {
    const answer = await this.api.post("join-requests", body);
    card.tracker.follow(answer.join_request_id);
  }

  /** The line for a failure, or null when it was handled elsewhere (401: the key prompt). */
  explain(error, doing) {
    if (error instanceof ApiError && error.status === 401) {
      this.askForKey(`The API no longer accepts this key: ${error.detail}. Enter a key.`);
      return null;
    }
    return describe(error, doing);
  }

  report(error, doing) {
    const message = this.explain(error, doing);
    if (message) this.showBanner(message);
  }

  showBanner(message) {
    setText(this.banner, message);
    show(this.banner, message !== "");
  }

  updated() {
    const time = new Date().toLocaleTimeString();
    setText(
      this.element("fleet-updated"),
      `Updated ${time}; presence refreshes every ${PRESENCE_REFRESH_MS / 1000} s.`,
    );
  }
}

new App().start();
