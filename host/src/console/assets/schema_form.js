// A form generated from a plugin's JSON schema (the manifest's `config.schema`): objects become
// fieldsets, arrays lists with add/remove, enums selects, booleans checkboxes, strings and
// numbers inputs; anything else a JSON text area. Each field carries its JSON pointer
// (`data-pointer="/rules/0/keyword"`) so that the server's validation errors, which name the
// pointer, are shown at the field they are about. The schema's `description` is the help text.

import { t } from "./i18n.js";

let seq = 0;
const uid = () => `f${++seq}`;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function typeOf(schema) {
  if (!schema || typeof schema !== "object") return "json";
  if (Array.isArray(schema.enum)) return "enum";
  const ty = Array.isArray(schema.type) ? schema.type.find((x) => x !== "null") : schema.type;
  if (["object", "array", "string", "integer", "number", "boolean"].includes(ty)) return ty;
  if (schema.properties) return "object";
  return "json";
}

// A node renders one value at `pointer` and reads it back with `value()` (undefined = omit).
function build(schema, value, pointer, label, required) {
  const kind = typeOf(schema);
  const wrap = el("div", { class: `field field-${kind}`, "data-pointer": pointer });
  const id = uid();
  const help = schema && schema.description ? el("p", { class: "help", text: schema.description }) : null;
  const error = el("p", { class: "field-error", role: "alert", hidden: true });
  const labelEl = label !== null ? el("label", { for: id, text: label + (required ? " *" : "") }) : null;

  if (kind === "object") {
    const box = el("fieldset", { class: "object" });
    if (label !== null) box.append(el("legend", { text: label }));
    if (help) box.append(help);
    box.append(error);
    const req = new Set(schema.required || []);
    const obj = value && typeof value === "object" && !Array.isArray(value) ? value : {};
    const children = [];
    for (const [key, sub] of Object.entries(schema.properties || {})) {
      const child = build(sub, obj[key], `${pointer}/${key}`, key, req.has(key));
      children.push([key, child]);
      box.append(child.element);
    }
    // Keys the schema does not describe are kept as they are.
    const extra = Object.fromEntries(Object.entries(obj).filter(([k]) => !(schema.properties || {})[k]));
    wrap.append(box);
    return {
      element: wrap,
      value() {
        const out = { ...extra };
        for (const [key, child] of children) {
          const v = child.value();
          if (v !== undefined) out[key] = v;
        }
        return out;
      },
    };
  }

  if (kind === "array") {
    const box = el("fieldset", { class: "array" });
    if (label !== null) box.append(el("legend", { text: label }));
    if (help) box.append(help);
    box.append(error);
    const list = el("div", { class: "items" });
    const add = el("button", { type: "button", class: "secondary add", text: t("form.add") });
    box.append(list, add);
    let items = Array.isArray(value) ? [...value] : [];
    let nodes = [];
    const render = () => {
      list.replaceChildren();
      nodes = items.map((item, i) => {
        const node = build(schema.items || {}, item, `${pointer}/${i}`, t("form.item", { n: i + 1 }), false);
        const remove = el("button", { type: "button", class: "link remove", text: t("form.remove") });
        remove.addEventListener("click", () => {
          items = nodes.map((n) => n.value());
          items.splice(i, 1);
          render();
        });
        const row = el("div", { class: "item" }, node.element, remove);
        list.append(row);
        return node;
      });
    };
    add.addEventListener("click", () => {
      items = nodes.map((n) => n.value());
      items.push(emptyOf(schema.items || {}));
      render();
      const inputs = list.lastElementChild?.querySelector("input, select, textarea");
      if (inputs) inputs.focus();
    });
    render();
    wrap.append(box);
    return { element: wrap, value: () => nodes.map((n) => n.value()) };
  }

  let input;
  let read;
  if (kind === "enum") {
    input = el("select", { id });
    if (!required) input.append(el("option", { value: "", text: t("form.unset") }));
    for (const opt of schema.enum) input.append(el("option", { value: JSON.stringify(opt), text: String(opt) }));
    const current = value !== undefined ? value : required ? schema.default : undefined;
    input.value = current === undefined ? "" : JSON.stringify(current);
    read = () => (input.value === "" ? undefined : JSON.parse(input.value));
  } else if (kind === "boolean") {
    input = el("input", { id, type: "checkbox" });
    input.checked = value === undefined ? !!schema.default : !!value;
    read = () => input.checked;
  } else if (kind === "integer" || kind === "number") {
    input = el("input", { id, type: "number", step: kind === "integer" ? "1" : "any", inputmode: "numeric" });
    if (schema.minimum !== undefined) input.min = schema.minimum;
    if (schema.maximum !== undefined) input.max = schema.maximum;
    if (value !== undefined) input.value = value;
    else if (schema.default !== undefined) input.placeholder = String(schema.default);
    read = () => {
      if (input.value.trim() === "") return undefined;
      const n = Number(input.value);
      return Number.isFinite(n) ? n : input.value;
    };
  } else if (kind === "string") {
    const long = (schema.maxLength || 0) > 200 || /reply|content|text|message/i.test(label || "");
    input = long ? el("textarea", { id, rows: 2 }) : el("input", { id, type: "text" });
    if (value !== undefined) input.value = value;
    else if (schema.default !== undefined) input.placeholder = String(schema.default);
    // An optional string left empty is left out; a required one is sent (the server says why
    // an empty one is wrong, at this field).
    read = () => (input.value === "" && !required ? undefined : input.value);
  } else {
    input = el("textarea", { id, rows: 3, class: "json" });
    if (value !== undefined) input.value = JSON.stringify(value, null, 2);
    read = () => {
      if (input.value.trim() === "") return undefined;
      try {
        return JSON.parse(input.value);
      } catch {
        throw Object.assign(new Error(t("form.bad_json")), { pointer });
      }
    };
  }
  input.setAttribute("aria-describedby", `${id}-help`);
  if (help) help.id = `${id}-help`;
  if (kind === "boolean") wrap.append(el("div", { class: "check" }, input, labelEl), help, error);
  else wrap.append(labelEl, input, help, error);
  return { element: wrap, value: read };
}

function emptyOf(schema) {
  if (schema.default !== undefined) return structuredClone(schema.default);
  const kind = typeOf(schema);
  if (kind === "object") {
    const out = {};
    for (const key of schema.required || []) {
      const sub = (schema.properties || {})[key] || {};
      out[key] = emptyOf(sub);
    }
    return out;
  }
  if (kind === "array") return [];
  if (kind === "string") return "";
  return undefined;
}

// The validation message of a refused config, split into `{pointer, message}` per violation:
// the host lists them as "config does not match the plugin's schema: /a/0/b: msg; /c: msg"
// (a violation at the root has no pointer).
export function parseSchemaErrors(message) {
  const marker = "schema: ";
  const at = message.indexOf(marker);
  if (at < 0) return [{ pointer: "", message }];
  return message
    .slice(at + marker.length)
    .split("; ")
    .map((part) => {
      const m = /^(\/[^:]*): (.*)$/s.exec(part);
      return m ? { pointer: m[1], message: m[2] } : { pointer: "", message: part };
    });
}

// Builds the form for `schema` holding `value` inside `container`. Returns `{value(), showErrors()}`.
export function schemaForm(container, schema, value) {
  const root = build(schema, value, "", null, true);
  container.replaceChildren(root.element);
  return {
    // The edited config; throws an Error with `pointer` for a field that cannot be read.
    value: () => root.value(),
    // Marks each error at the deepest field whose pointer is a prefix of the error's.
    showErrors(errors) {
      for (const e of container.querySelectorAll(".field-error")) {
        e.hidden = true;
        e.textContent = "";
      }
      for (const f of container.querySelectorAll(".field.invalid")) f.classList.remove("invalid");
      const fields = [...container.querySelectorAll(".field[data-pointer]")];
      let first = null;
      for (const err of errors) {
        let best = null;
        for (const f of fields) {
          const p = f.dataset.pointer;
          if ((err.pointer === p || err.pointer.startsWith(p + "/") || p === "") && (!best || p.length > best.dataset.pointer.length)) best = f;
        }
        if (!best) continue;
        best.classList.add("invalid");
        const slot = best.querySelector(":scope > .field-error, :scope > fieldset > .field-error");
        if (slot) {
          slot.hidden = false;
          slot.textContent = slot.textContent ? `${slot.textContent}; ${err.message}` : err.message;
        }
        first = first || best;
      }
      if (first) first.scrollIntoView({ block: "center" });
    },
  };
}
