// Building the page's DOM from data. Everything a person supplied (file names, JSON values,
// messages that quote them) goes in as text nodes, never as HTML: a JobRequest is untrusted
// input, and the page must not be scriptable through it (the CSP forbids inline scripts as a
// second line of defence).

/** The element with id `id`; a missing one is a bug in index.html, so fail loudly. */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element;
}

/**
 * A new element: `el("li", { class: "x", data: { path: "/a" } }, "text", child, …)`.
 * Attributes go through setAttribute (no `style`: the CSP forbids style attributes);
 * strings become text nodes; null/undefined/false children are skipped.
 */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "data") {
      for (const [key, v] of Object.entries(value)) element.dataset[key] = String(v);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `element`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** `1 byte`, `512 bytes`, `1.5 KiB`, `23 MiB`, `2.0 GiB` (binary units, as the limits are). */
export function formatBytes(value) {
  const n = Number(value);
  if (n < 1024) return `${n.toLocaleString("en")} ${n === 1 ? "byte" : "bytes"}`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let scaled = n / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  const digits = scaled < 10 ? 1 : 0;
  return `${scaled.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${units[unit]}`;
}

/** `1 file` / `3 files`. */
export function plural(count, singular, pluralForm = `${singular}s`) {
  return `${count.toLocaleString("en")} ${count === 1 ? singular : pluralForm}`;
}
