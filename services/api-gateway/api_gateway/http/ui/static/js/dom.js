/**
 * Small DOM helpers. Everything shown is set with textContent or attributes, never parsed as
 * HTML, so names and session fields from the API cannot inject markup (the CSP also requires
 * Trusted Types for any HTML sink, which this page never uses).
 */

/** A deep copy of a <template>'s first element. */
export function clone(templateId) {
  const template = document.getElementById(templateId);
  return template.content.firstElementChild.cloneNode(true);
}

/** The element marked data-field="name" inside root. */
export function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

/** A new element: el("td", { className: "x", text: "y", title: "z" }, child, ...). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/** Set text only when it changes, so live regions announce real changes only. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function show(node, visible) {
  node.hidden = !visible;
}
