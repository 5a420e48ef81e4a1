// Tiny DOM helpers: h("div.cls", {attrs}, children...) builds elements without innerHTML.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Show a short message in the page's live region (read by screen readers). */
export function announce(msg, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = msg;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(announce._t);
  announce._t = setTimeout(() => (box.hidden = true), 6000);
}
