// Small DOM helpers shared by the pages.

import { t, lang } from "./i18n.js";

// `el("button", {class: "x", onclick: f}, "text", child)`: attributes, `on*` listeners, children.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "value") e.value = v;
    else if (k === "checked") e.checked = !!v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function main() {
  return document.getElementById("main");
}

// Replaces the page's content with a title and the given nodes.
export function page(title, ...children) {
  document.title = `${title} · Plaza`;
  const m = main();
  m.replaceChildren(el("h1", { text: title }), ...children);
  return m;
}

// A message box (role=status) for outcomes; `kind` is "ok" or "error".
export function notice(kind, text) {
  return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
}

export function errorText(e) {
  if (e && e.code === "network") return t("error.network");
  return t("error.generic", { message: e && e.message ? e.message : String(e) });
}

export function fmtTime(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}

// A labelled form control.
export function field(label, control, help) {
  const id = control.id || `c${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id, text: label }), control, help ? el("p", { class: "help", text: help }) : null);
}
