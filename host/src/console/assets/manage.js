// Operator pages beyond the first ones: followers with a segment builder (live matching count),
// a follower's profile and tags, templates, menus, the audit log, and — for admins — tokens and
// security events. Each page is a thin view over one admin API family; every change goes
// through the same API (and so the same authorization and audit log) as the CLI.

import { api, enc } from "./api.js";
import { t } from "./i18n.js";
import { el, errorText, field, fmtTime, notice, page } from "./ui.js";

// ---- followers and the segment builder -------------------------------------------------------

// One condition of the builder: the segment language's predicates an operator picks most.
const FIELDS = [
  ["tag", (v) => `tag:${quote(v)}`, false],
  ["region", (v, op) => `region ${op} ${quote(v)}`, true],
  ["gender", (v, op) => `gender ${op} ${quote(v)}`, true],
  ["language", (v, op) => `language ${op} ${quote(v)}`, true],
  ["attr", (v, op, key) => `attr.${quote(key)} ${op} ${quote(v)}`, true],
  ["counter", (v, op, key) => `counter.${quote(key)} ${op} ${Number(v) || 0}`, true],
  ["active_within", (v) => `active_within ${v || "7d"}`, false],
  ["subscribed_within", (v) => `subscribed_within ${v || "30d"}`, false],
];

// A value as the segment language reads it: bare when it is one plain word, quoted otherwise.
function quote(v) {
  const s = String(v ?? "").trim();
  return /^[\p{L}\p{N}_.:-]+$/u.test(s) ? s : `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export async function followersPage(account, openid) {
  const rows = el("div", { class: "seg-rows", id: "seg-rows" });
  const join = el("select", { id: "seg-join", "aria-label": t("fol.join") }, el("option", { value: "and", text: t("fol.join.and") }), el("option", { value: "or", text: t("fol.join.or") }));
  const expr = el("input", { id: "seg-expr", placeholder: "tag:vip and active_within 7d", "aria-label": t("fol.expr") });
  const count = el("p", { id: "seg-count", class: "count", "aria-live": "polite" });
  const list = el("tbody", { id: "fol-list" });
  const profile = el("section", { class: "card", id: "fol-profile", hidden: true });
  let timer = null;
  let seq = 0;

  const compose = () => {
    const parts = [...rows.children]
      .map((row) => {
        const [kind, op, key, value] = ["kind", "op", "key", "value"].map((n) => row.querySelector(`[name=${n}]`).value);
        const f = FIELDS.find(([k]) => k === kind);
        if (!f || (f[2] && !value.trim() && kind !== "counter")) return null;
        return f[1](value, op, key);
      })
      .filter(Boolean);
    expr.value = parts.length > 1 ? parts.map((p) => `(${p})`).join(` ${join.value} `) : parts[0] || "";
    refresh();
  };

  const addRow = () => {
    const kind = el("select", { name: "kind", "aria-label": t("fol.field") }, FIELDS.map(([k]) => el("option", { value: k, text: t("fol.field." + k) })));
    const op = el("select", { name: "op", "aria-label": t("fol.op") }, ["=", "!=", ">=", "<=", ">", "<"].map((o) => el("option", { value: o, text: o })));
    const key = el("input", { name: "key", placeholder: t("fol.key"), size: 8 });
    const value = el("input", { name: "value", placeholder: t("fol.value") });
    const remove = el("button", { type: "button", class: "link", text: "×", "aria-label": t("fol.remove") });
    const row = el("div", { class: "seg-row" }, kind, op, key, value, remove);
    const sync = () => {
      const f = FIELDS.find(([k]) => k === kind.value);
      op.hidden = !f[2];
      key.hidden = !["attr", "counter"].includes(kind.value);
      value.placeholder = kind.value.endsWith("_within") ? "7d" : t("fol.value");
    };
    kind.addEventListener("change", () => {
      sync();
      compose();
    });
    for (const c of [op, key, value]) c.addEventListener("input", compose);
    remove.addEventListener("click", () => {
      row.remove();
      compose();
    });
    sync();
    rows.append(row);
  };

  // The matching count and the first page, asked again (debounced) as the segment changes.
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      const q = new URLSearchParams();
      if (expr.value.trim()) q.set("segment", expr.value.trim());
      try {
        const [stats, page1] = await Promise.all([
          api("GET", `/accounts/${enc(account)}/followers/stats?${q}`),
          api("GET", `/accounts/${enc(account)}/followers?${q}&limit=100`),
        ]);
        if (mine !== seq) return;
        count.replaceChildren(el("strong", { text: t("fol.count", { n: stats.subscribed }) }));
        list.replaceChildren(
          ...(page1.followers.length
            ? page1.followers.map((f) =>
                el(
                  "tr",
                  {},
                  el("td", {}, el("a", { href: `#/accounts/${enc(account)}/followers/${enc(f.openid)}`, text: f.nickname || f.openid })),
                  el("td", { text: (f.tags || []).join(", ") }),
                  el("td", { text: f.region || "" }),
                  el("td", { text: f.gender || "" }),
                  el("td", { text: fmtTime(f.last_interaction_at) }),
                ),
              )
            : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: t("fol.none") }))]),
        );
      } catch (e) {
        if (mine !== seq) return;
        count.replaceChildren(notice("error", errorText(e)));
      }
    }, 250);
  };
  expr.addEventListener("input", refresh);
  join.addEventListener("change", compose);

  const showProfile = async (id) => {
    const f = await api("GET", `/accounts/${enc(account)}/followers/${enc(id)}`);
    const { tags } = await api("GET", `/accounts/${enc(account)}/tags`);
    const status = el("div");
    const tagPick = el("select", { id: "fol-tag", "aria-label": t("fol.tag") }, tags.map((tg) => el("option", { value: tg.name, text: tg.name })));
    const add = el("button", { type: "button", class: "secondary", id: "fol-tag-add", text: t("fol.tag.add") });
    add.addEventListener("click", async () => {
      status.replaceChildren();
      try {
        await api("POST", `/accounts/${enc(account)}/tags/${enc(tagPick.value)}/tag`, { openids: [id] });
        await showProfile(id);
      } catch (e) {
        status.append(notice("error", errorText(e)));
      }
    });
    const dl = (pairs) => el("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v === undefined || v === null || v === "" ? "—" : String(v) })]));
    profile.hidden = false;
    profile.replaceChildren(
      el("h2", { text: f.nickname || f.openid }),
      dl([
        ["openid", f.openid],
        [t("fol.subscribed"), f.subscribed ? t("yes") : t("no")],
        [t("fol.region"), f.region],
        [t("fol.gender"), f.gender],
        [t("fol.language"), f.language],
        [t("fol.last"), fmtTime(f.last_interaction_at)],
      ]),
      el("h3", { text: t("fol.tags") }),
      el("p", { id: "fol-tags", text: (f.tags || []).join(", ") || "—" }),
      tags.length ? el("div", { class: "inline" }, tagPick, add) : null,
      el("h3", { text: t("fol.attributes") }),
      dl(Object.entries(f.attributes || {})),
      el("h3", { text: t("fol.counters") }),
      dl(Object.entries(f.counters || {})),
      status,
      el("p", {}, el("a", { href: `#/accounts/${enc(account)}/simulator/${enc(f.openid)}`, text: t("fol.simulate") }), " · ", el("a", { href: `#/accounts/${enc(account)}/service/${enc(f.openid)}`, text: t("fol.answer") })),
    );
  };

  const more = el("button", { type: "button", class: "secondary", id: "seg-add", text: t("fol.add") });
  more.addEventListener("click", addRow);
  page(
    t("fol.title"),
    el("section", { class: "card", id: "segment" }, el("h2", { text: t("fol.segment") }), rows, el("div", { class: "inline" }, more, join), field(t("fol.expr"), expr, t("fol.expr.help")), count),
    el(
      "div",
      { class: "table-wrap" },
      el("table", { id: "followers" }, el("thead", {}, el("tr", {}, ["fol.name", "fol.tags", "fol.region", "fol.gender", "fol.last"].map((k) => el("th", { text: t(k) })))), list),
    ),
    profile,
  );
  refresh();
  if (openid) await showProfile(openid);
}

// ---- templates --------------------------------------------------------------------------------

export async function templatesPage(account) {
  const list = el("tbody", { id: "tpl-list" });
  const status = el("div");
  const load = async () => {
    const r = await api("GET", `/accounts/${enc(account)}/templates`);
    list.replaceChildren(
      ...(r.templates.length
        ? r.templates.map((tp) => el("tr", {}, el("td", { text: tp.id }), el("td", { text: tp.title }), el("td", {}, el("pre", { text: tp.content })), el("td", { text: tp.active ? t("yes") : t("no") })))
        : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: t("tpl.none") }))]),
    );
    quota.textContent = t("tpl.quota", { active: r.active, limit: r.active_limit });
  };
  const quota = el("p", { class: "muted" });
  const title = el("input", { required: true });
  const content = el("textarea", { rows: 5, required: true, placeholder: "{{first.DATA}}\nOrder: {{order.DATA}}\n{{remark.DATA}}" });
  const form = el("form", { class: "card", id: "tpl-form" }, el("h2", { text: t("tpl.new") }), field(t("tpl.title_field"), title), field(t("tpl.content"), content, t("tpl.content.help")), status, el("button", { type: "submit", text: t("create") }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    try {
      const created = await api("POST", `/accounts/${enc(account)}/templates`, { title: title.value, content: content.value });
      status.append(notice("ok", t("tpl.created", { id: created.id })));
      title.value = "";
      content.value = "";
      await load();
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  });
  page(t("tpl.title"), quota, el("div", { class: "table-wrap" }, el("table", { id: "templates" }, el("thead", {}, el("tr", {}, ["tpl.id", "tpl.title_field", "tpl.content", "tpl.active"].map((k) => el("th", { text: t(k) })))), list)), form);
  await load();
}

// ---- menus ------------------------------------------------------------------------------------

export async function menusPage(account) {
  const status = el("div");
  const editor = el("textarea", { id: "menu-json", rows: 14, spellcheck: false, "aria-label": t("menu.json") });
  const stats = el("tbody", { id: "menu-stats" });
  const load = async () => {
    try {
      const m = await api("GET", `/accounts/${enc(account)}/menu`);
      editor.value = JSON.stringify({ button: m.menu.button }, null, 2);
    } catch (e) {
      if (e.status !== 404) throw e;
      editor.value = JSON.stringify({ button: [{ type: "click", name: "Hello", key: "HELLO" }] }, null, 2);
      status.replaceChildren(notice("ok", t("menu.none")));
    }
    const s = await api("GET", `/accounts/${enc(account)}/menu/stats?days=7`);
    stats.replaceChildren(...(s.clicks.length ? s.clicks.map((r) => el("tr", {}, el("td", { text: `${r.key} (${r.type})` }), el("td", { text: String(r.count) }))) : [el("tr", {}, el("td", { colspan: 2, class: "muted", text: t("menu.noclicks") }))]));
  };
  const save = el("button", { type: "submit", text: t("save") });
  const form = el("form", { class: "card", id: "menu-form" }, field(t("menu.json"), editor, t("menu.help")), status, save);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    let body;
    try {
      body = JSON.parse(editor.value);
    } catch (e) {
      status.append(notice("error", t("menu.badjson", { message: e.message })));
      return;
    }
    try {
      await api("PUT", `/accounts/${enc(account)}/menu`, body);
      status.append(notice("ok", t("saved")));
      await load();
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  });
  page(t("menu.title"), form, el("h2", { text: t("menu.clicks") }), el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: t("menu.key") }), el("th", { text: t("menu.count") }))), stats)));
  await load();
}

// ---- audit log, tokens, security events --------------------------------------------------------

export async function auditPage(account) {
  const body = el("tbody", { id: "audit-list" });
  const route = el("input", { placeholder: "/accounts/{account}/menu" });
  const status = el("div");
  let cursor = null;
  const more = el("button", { type: "button", class: "secondary", text: t("events.more"), hidden: true });
  const load = async (reset) => {
    status.replaceChildren();
    if (reset) {
      body.replaceChildren();
      cursor = null;
    }
    const q = new URLSearchParams({ limit: "100" });
    if (route.value.trim()) q.set("route", route.value.trim());
    if (cursor) q.set("cursor", cursor);
    const path = account ? `/accounts/${enc(account)}/audit?${q}` : `/audit?${q}`;
    try {
      const r = await api("GET", path);
      for (const a of r.records) {
        const who = [a.actor.name || a.actor.id || a.actor.kind, a.actor.role].filter(Boolean).join(" · ");
        // Before and after, when the route has a state to read (secrets are redacted by the server).
        const change =
          a.before !== undefined || a.after !== undefined
            ? el("details", {}, el("summary", { text: t("audit.change") }), el("pre", { class: "diff", text: `${t("audit.before")}: ${JSON.stringify(a.before ?? null, null, 2)}\n${t("audit.after")}: ${JSON.stringify(a.after ?? null, null, 2)}` }))
            : null;
        body.append(el("tr", {}, el("td", { text: fmtTime(a.at) }), el("td", { text: who }), el("td", { text: `${a.via}${a.peer ? " · " + a.peer : ""}` }), el("td", {}, `${a.method} ${a.path}`, change), el("td", { text: String(a.status) })));
      }
      if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: t("audit.none") })));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  };
  more.addEventListener("click", () => load(false));
  const form = el("form", { class: "filters" }, field(t("audit.route"), route), el("button", { type: "submit", text: t("events.filter") }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load(true);
  });
  page(t("audit.title"), form, status, el("div", { class: "table-wrap" }, el("table", { id: "audit" }, el("thead", {}, el("tr", {}, ["events.at", "audit.who", "audit.via", "audit.what", "audit.status"].map((k) => el("th", { text: t(k) })))), body)), more);
  await load(true);
}

export async function tokensPage() {
  const list = el("tbody", { id: "tok-list" });
  const status = el("div");
  const load = async () => {
    const { tokens } = await api("GET", "/tokens");
    list.replaceChildren(
      ...(tokens.length
        ? tokens.map((tk) => {
            const revoke = el("button", { type: "button", class: "link", text: t("tok.revoke") });
            revoke.addEventListener("click", async () => {
              if (!confirm(t("tok.confirm", { name: tk.name }))) return;
              try {
                await api("DELETE", `/tokens/${enc(tk.id)}`);
                await load();
              } catch (e) {
                status.replaceChildren(notice("error", errorText(e)));
              }
            });
            return el("tr", {}, el("td", { text: tk.name }), el("td", { text: t("tok.role." + tk.role) }), el("td", { text: tk.accounts.join(", ") || t("tok.all") }), el("td", { text: tk.ip_allow.join(", ") || t("tok.any") }), el("td", { text: fmtTime(tk.created_at) }), el("td", {}, revoke));
          })
        : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: t("tok.none") }))]),
    );
  };
  const name = el("input", { id: "tok-name", required: true });
  const role = el("select", { id: "tok-role" }, ["operator", "analyst", "admin"].map((r) => el("option", { value: r, text: t("tok.role." + r) })));
  const accounts = el("input", { id: "tok-accounts", placeholder: "demo, shop" });
  const ips = el("input", { id: "tok-ips", placeholder: "10.0.0.0/8, 203.0.113.7" });
  const form = el("form", { class: "card", id: "tok-form" }, el("h2", { text: t("tok.new") }), field(t("tok.name"), name), field(t("tok.role"), role), field(t("tok.accounts"), accounts, t("tok.accounts.help")), field(t("tok.ips"), ips, t("tok.ips.help")), status, el("button", { type: "submit", text: t("create") }));
  const split = (s) => s.split(/[\s,]+/).filter(Boolean);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    try {
      const created = await api("POST", "/tokens", { name: name.value.trim(), role: role.value, accounts: split(accounts.value), ip_allow: split(ips.value) });
      status.append(notice("ok", t("tok.created", { token: created.token })));
      name.value = "";
      await load();
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  });
  page(t("tok.title"), el("div", { class: "table-wrap" }, el("table", { id: "tokens" }, el("thead", {}, el("tr", {}, ["tok.name", "tok.role", "tok.accounts", "tok.ips", "events.at", ""].map((k) => el("th", { text: k ? t(k) : "" })))), list)), form);
  await load();
}

export async function securityPage() {
  const { events } = await api("GET", "/security/events?limit=200");
  page(
    t("sec.title"),
    el("p", { class: "muted", text: t("sec.intro") }),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { id: "security" },
        el("thead", {}, el("tr", {}, ["events.at", "sec.kind", "sec.address", "sec.token"].map((k) => el("th", { text: t(k) })))),
        el(
          "tbody",
          {},
          ...(events.length
            ? events.map((e) => el("tr", { "data-kind": e.kind }, el("td", { text: fmtTime(e.at) }), el("td", { text: t("sec.kind." + e.kind) }), el("td", { text: e.address || "" }), el("td", { text: e.token_name || e.token || "" })))
            : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: t("sec.none") }))]),
        ),
      ),
    ),
  );
}
