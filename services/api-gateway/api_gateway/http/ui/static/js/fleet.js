/**
 * Projects, their groups and each group's devices with presence, built from <template>s.
 *
 * Every group is a GroupCard: the fleet view renders them once per load, and the periodic
 * presence refresh only replaces their device rows, so an open form or a join status that is
 * being followed is never rebuilt under the operator.
 */

import { clone, el, field, setText, show } from "./dom.js";
import { ago, formatTime, plural } from "./format.js";

/** The key a group is known by on the page. */
export function groupKey(project, group) {
  return `${project}/${group}`;
}

export class GroupCard {
  constructor(project, group, onJoin) {
    this.project = project;
    this.group = group.name;
    this.node = clone("group-template");
    const headingId = `group-${project}--${group.name}`;
    const heading = field(this.node, "name");
    heading.id = headingId;
    heading.textContent = group.name;
    this.node.setAttribute("aria-labelledby", headingId);
    setText(field(this.node, "comments"), group.comments ?? "");
    setText(field(this.node, "caption"), `Devices of group ${group.name}`);
    const join = this.node.querySelector('[data-action="join"]');
    join.setAttribute("aria-label", `Join session: group ${group.name}`);
    join.addEventListener("click", () => onJoin(this));
    this.joinButton = join;
    this.joinSection = field(this.node, "join");
    this.joinSection.setAttribute("aria-label", `Last join request of group ${group.name}`);
  }

  /** Replace the device rows (the group's unrevoked devices, as the API lists them). */
  setDevices(devices, now = Date.now()) {
    const online = devices.filter((device) => device.online).length;
    setText(field(this.node, "summary"), `${plural(devices.length, "device")} · ${online} online`);
    field(this.node, "devices").replaceChildren(...devices.map((device) => row(device, now)));
    show(field(this.node, "no-devices"), devices.length === 0);
    show(this.node.querySelector("table.devices"), devices.length > 0);
  }
}

function row(device, now) {
  const state = device.online ? "online" : "offline";
  const name = el(
    "th",
    { scope: "row" },
    el("span", { className: "device-name", text: device.name }),
    el("span", { className: "device-id", text: device.id }),
  );
  const presence = el(
    "td",
    {},
    el(
      "span",
      { className: `presence presence-${state}` },
      el("span", { className: "dot", "aria-hidden": "true" }),
      state,
    ),
  );
  const seen = device.last_seen_at
    ? el("time", {
        datetime: device.last_seen_at,
        title: formatTime(device.last_seen_at),
        text: ago(device.last_seen_at, now),
      })
    : el("span", { className: "hint", text: "never" });
  return el("tr", { "data-device": device.id }, name, presence, el("td", {}, seen));
}

/**
 * Render every project (with its groups and their devices) into container.
 * projects: [{ id, name, groups: [Group], devices: [Device] }]; returns Map groupKey -> card.
 */
export function renderFleet(container, projects, onJoin) {
  const cards = new Map();
  const sections = projects.map((project) => {
    const section = clone("project-template");
    const headingId = `project-${project.id}`;
    const heading = field(section, "name");
    heading.id = headingId;
    heading.textContent = project.name;
    section.setAttribute("aria-labelledby", headingId);
    setText(field(section, "id"), project.id);
    setText(
      field(section, "counts"),
      `${plural(project.groups.length, "group")} · ${plural(project.devices.length, "device")}`,
    );
    show(field(section, "no-groups"), project.groups.length === 0);
    const groups = field(section, "groups");
    for (const group of project.groups) {
      const card = new GroupCard(project.id, group, onJoin);
      card.setDevices(project.devices.filter((device) => device.group === group.name));
      cards.set(groupKey(project.id, group.name), card);
      groups.append(card.node);
    }
    return section;
  });
  container.replaceChildren(...sections);
  return cards;
}

/** Give each known group of project its current devices (groups added since stay unseen). */
export function updateDevices(cards, project, devices, now = Date.now()) {
  for (const card of cards.values()) {
    if (card.project === project) {
      card.setDevices(
        devices.filter((device) => device.group === card.group),
        now,
      );
    }
  }
}
