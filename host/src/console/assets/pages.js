// The console's pages other than the simulator: accounts, dashboard, features and a plugin's
// settings, the event log, broadcasts.

import { api, enc, fetchPage } from "./api.js";
import { capabilityText, lang, t } from "./i18n.js";
import { parseSchemaErrors, schemaForm } from "./schema_form.js";
import { el, errorText, field, fmtTime, notice, page } from "./ui.js";

// ---- accounts -------------------------------------------------------------------------------

export async function accountsPage() {
  const { accounts } = await api("GET", "/accounts");
  const list = accounts.length
    ? el(
        "ul",
        { class: "cards", id: "accounts" },
        accounts.map((a) =>
          el(
            "li",
            { class: "card account" },
            el("a", { href: `#/accounts/${enc(a.id)}/dashboard`, class: "title", text: a.name || a.id }),
            el("p", { class: "muted", text: `${a.id} · ${t("accounts.kind." + a.kind)} · ${a.verified ? "✓ " + t("accounts.verified") : ""}` }),
            el(
              "p",
              { class: "links" },
              el("a", { href: `#/accounts/${enc(a.id)}/features`, text: t("nav.features") }),
              el("a", { href: `#/accounts/${enc(a.id)}/simulator`, text: t("nav.simulator") }),
            ),
          ),
        ),
      )
    : el("p", { class: "muted", text: t("accounts.empty") });

  const id = el("input", { required: true, pattern: "[a-z0-9][a-z0-9_-]*", name: "id" });
  const name = el("input", { name: "name" });
  const kind = el(
    "select",
    { name: "kind" },
    el("option", { value: "subscription", text: t("accounts.kind.subscription") }),
    el("option", { value: "service", text: t("accounts.kind.service") }),
  );
  const verified = el("input", { type: "checkbox", name: "verified" });
  const timezone = el("input", { name: "timezone", placeholder: "Asia/Shanghai" });
  const status = el("div");
  const form = el(
    "form",
    { class: "card", id: "create-account" },
    el("h2", { text: t("accounts.create") }),
    el("div", { class: "grid" }, field(t("accounts.id"), id), field(t("accounts.name"), name), field(t("accounts.kind"), kind), field(t("accounts.timezone"), timezone)),
    el("div", { class: "check" }, verified, el("label", { for: (verified.id = "verified"), text: t("accounts.verified") })),
    status,
    el("button", { type: "submit", text: t("create") }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    const body = { id: id.value.trim(), kind: kind.value, verified: verified.checked };
    if (name.value.trim()) body.name = name.value.trim();
    if (timezone.value.trim()) body.timezone = timezone.value.trim();
    try {
      const created = await api("POST", "/accounts", body);
      await accountsPage();
      document.getElementById("main").append(notice("ok", t("accounts.created", { id: created.account?.id || body.id, key: created.ingress_key || "" })));
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  });
  page(t("accounts.title"), list, form);
}

// ---- dashboard ------------------------------------------------------------------------------

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

// A hand-drawn SVG chart: one bar pair per day (new followers up, unfollows down) and the
// running net total as a line.
// A horizontal bar chart of `[label, count]` pairs (largest first, at most `max` bars), as SVG.
function barChart(pairs, label, max = 8) {
  const NS = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const rows = pairs.filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).slice(0, max);
  if (!rows.length) return el("p", { class: "muted", text: t("dashboard.nodata.short") });
  const W = 320;
  const bar = 22;
  const H = rows.length * (bar + 6) + 4;
  const peak = Math.max(...rows.map(([, n]) => n));
  const svg = mk("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bars", role: "img", "aria-label": label });
  rows.forEach(([name, n], i) => {
    const y = 2 + i * (bar + 6);
    const w = Math.max(2, ((W - 130) * n) / peak);
    const r = mk("rect", { x: 90, y, width: w, height: bar, class: "up" });
    r.append(Object.assign(mk("title", {}), { textContent: `${name}: ${n}` }));
    const l = mk("text", { x: 84, y: y + bar * 0.7, class: "tick", "text-anchor": "end" });
    l.textContent = name.length > 12 ? name.slice(0, 11) + "…" : name;
    const v = mk("text", { x: 96 + w, y: y + bar * 0.7, class: "tick" });
    v.textContent = String(n);
    svg.append(r, l, v);
  });
  return svg;
}

// Followers by hour of their last interaction (0-23, account time), as a column chart.
function hoursChart(hours) {
  const NS = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  if (!hours.some((n) => n > 0)) return el("p", { class: "muted", text: t("dashboard.nodata.short") });
  const W = 480;
  const H = 160;
  const pad = 20;
  const peak = Math.max(...hours);
  const step = (W - 2 * pad) / 24;
  const svg = mk("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart hours", role: "img", "aria-label": t("dashboard.hours") });
  hours.forEach((n, h) => {
    const height = ((H - 2 * pad) * n) / peak;
    const r = mk("rect", { x: pad + h * step + 1, y: H - pad - height, width: step - 2, height, class: "up" });
    r.append(Object.assign(mk("title", {}), { textContent: `${String(h).padStart(2, "0")}:00 · ${n}` }));
    svg.append(r);
    if (h % 3 === 0) {
      const l = mk("text", { x: pad + h * step + step / 2, y: H - 4, class: "tick", "text-anchor": "middle" });
      l.textContent = String(h);
      svg.append(l);
    }
  });
  return svg;
}

function growthChart(days) {
  const NS = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const W = 600;
  const H = 220;
  const pad = 28;
  const rows = days.map((d) => {
    const f = (d.detail && d.detail.follower_event) || {};
    return { date: d.date, up: f.subscribe || 0, down: f.unsubscribe || 0 };
  });
  let net = 0;
  const totals = rows.map((r) => (net += r.up - r.down));
  const peak = Math.max(1, ...rows.map((r) => Math.max(r.up, r.down)), ...totals.map(Math.abs));
  const mid = H / 2;
  const scale = (H / 2 - pad) / peak;
  const step = (W - 2 * pad) / Math.max(1, rows.length);
  const svg = mk("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": t("dashboard.growth") });
  svg.append(mk("line", { x1: pad, x2: W - pad, y1: mid, y2: mid, class: "axis" }));
  rows.forEach((r, i) => {
    const x = pad + i * step + step * 0.15;
    const w = step * 0.7;
    if (r.up) {
      const b = mk("rect", { x, y: mid - r.up * scale, width: w, height: r.up * scale, class: "up" });
      b.append(Object.assign(mk("title", {}), { textContent: `${r.date}: +${r.up}` }));
      svg.append(b);
    }
    if (r.down) {
      const b = mk("rect", { x, y: mid, width: w, height: r.down * scale, class: "down" });
      b.append(Object.assign(mk("title", {}), { textContent: `${r.date}: -${r.down}` }));
      svg.append(b);
    }
    if (i % Math.ceil(rows.length / 6) === 0) {
      const label = mk("text", { x: x + w / 2, y: H - 6, class: "tick", "text-anchor": "middle" });
      label.textContent = r.date.slice(5);
      svg.append(label);
    }
  });
  const points = totals.map((v, i) => `${pad + i * step + step / 2},${mid - v * scale}`).join(" ");
  svg.append(mk("polyline", { points, class: "net" }));
  return svg;
}

export async function dashboardPage(account) {
  const now = Date.now();
  const [acc, stats, daily, installed] = await Promise.all([
    api("GET", `/accounts/${enc(account)}`),
    api("GET", `/accounts/${enc(account)}/followers/stats`).catch(() => null),
    api("GET", `/accounts/${enc(account)}/events/daily?from=${isoDay(now - 29 * 86400e3)}&to=${isoDay(now)}&kinds=follower_event`),
    api("GET", `/accounts/${enc(account)}/installations`).catch(() => ({ installations: [] })),
  ]);
  // Pages enabled plugins serve for operators (their manifests' `operator_pages`).
  const pluginPages = (installed.installations || [])
    .filter((i) => i.enabled && Array.isArray(i.operator_pages))
    .flatMap((i) => i.operator_pages.map((p) => ({ plugin: i.plugin, path: p.path, title: (lang() === "zh" && p.title_zh) || p.title })));
  const a = acc.account || acc;
  const sums = daily.days.reduce(
    (s, d) => {
      const f = (d.detail && d.detail.follower_event) || {};
      s.up += f.subscribe || 0;
      s.down += f.unsubscribe || 0;
      return s;
    },
    { up: 0, down: 0 },
  );
  const totals = (stats && (stats.totals || stats)) || {};
  const tile = (label, value) => el("div", { class: "tile" }, el("span", { class: "value", text: String(value ?? "–") }), el("span", { class: "label", text: label }));
  page(
    `${a.name || a.id} · ${t("dashboard.title")}`,
    el("p", { class: "muted", text: `${a.id} · ${t("accounts.kind." + a.kind)} · ${a.timezone}` }),
    el(
      "div",
      { class: "tiles" },
      tile(t("dashboard.subscribed"), totals.subscribed),
      tile(t("dashboard.unsubscribed"), totals.unsubscribed),
      tile(t("dashboard.new"), sums.up),
      tile(t("dashboard.left"), sums.down),
    ),
    el(
      "section",
      { class: "card" },
      el("h2", { text: t("dashboard.growth") }),
      sums.up || sums.down ? growthChart(daily.days) : el("p", { class: "muted", text: t("dashboard.nodata") }),
      el("p", { class: "legend" }, el("span", { class: "key up" }), t("dashboard.new"), " ", el("span", { class: "key down" }), t("dashboard.left")),
    ),
    stats
      ? el(
          "div",
          { class: "grid2" },
          el("section", { class: "card", id: "dash-hours" }, el("h2", { text: t("dashboard.hours") }), hoursChart(stats.by_active_hour || []), el("p", { class: "muted", text: t("dashboard.hours.help", { tz: stats.timezone || a.timezone }) })),
          el("section", { class: "card", id: "dash-region" }, el("h2", { text: t("dashboard.region") }), barChart(Object.entries(stats.by_region || {}), t("dashboard.region"))),
          el("section", { class: "card", id: "dash-gender" }, el("h2", { text: t("dashboard.gender") }), barChart(Object.entries(stats.by_gender || {}).map(([g, n]) => [t("gender." + g) === "gender." + g ? g : t("gender." + g), n]), t("dashboard.gender"))),
        )
      : null,
    pluginPages.length
      ? el(
          "section",
          { class: "card", id: "dash-plugin-pages" },
          el("h2", { text: t("dashboard.plugin_pages") }),
          el("ul", {}, pluginPages.map((p) => el("li", {}, el("a", { href: `#/accounts/${enc(account)}/pages/${enc(p.plugin)}${p.path}`, text: `${p.title} (${p.plugin})` })))),
        )
      : null,
  );
}

// A page a plugin serves for operators (`operator_pages` in its manifest), shown inside the
// console: fetched with the operator's token (a plain link would carry none) and displayed in a
// sandboxed frame — no scripts, no access to the console.
export async function pluginOperatorPage(account, plugin, path) {
  const html = await fetchPage(`/p/${enc(account)}/${enc(plugin)}${path}`);
  const frame = el("iframe", { class: "plugin-page", id: "plugin-page", sandbox: "", title: `${plugin}${path}` });
  frame.srcdoc = html;
  page(`${plugin} · ${path}`, el("p", {}, el("a", { href: `#/accounts/${enc(account)}/dashboard`, text: t("dashboard.back") })), frame);
}

// ---- features -------------------------------------------------------------------------------

export async function featuresPage(account) {
  const [{ plugins }, { installations }] = await Promise.all([api("GET", "/plugins"), api("GET", `/accounts/${enc(account)}/installations`)]);
  const installed = new Map(installations.map((i) => [i.plugin, i]));
  // The newest registered version of each plugin describes it.
  const byName = new Map();
  for (const p of plugins) byName.set(p.name, p);
  const status = el("div", { id: "features-status" });

  const installedCards = installations.map((inst) => {
    const p = byName.get(inst.plugin) || { name: inst.plugin, description: "" };
    const toggle = el("input", { type: "checkbox", role: "switch", checked: inst.enabled, "aria-label": `${inst.plugin}: ${t("features.enabled")}` });
    const stateLabel = el("span", { text: inst.enabled ? t("features.enabled") : t("features.disabled") });
    toggle.addEventListener("change", async () => {
      status.replaceChildren();
      try {
        const upd = await api("PATCH", `/accounts/${enc(account)}/installations/${enc(inst.plugin)}`, { enabled: toggle.checked });
        stateLabel.textContent = upd.enabled ? t("features.enabled") : t("features.disabled");
      } catch (e) {
        toggle.checked = !toggle.checked;
        status.append(notice("error", errorText(e)));
      }
    });
    return el(
      "li",
      { class: "card plugin", "data-plugin": inst.plugin },
      el("div", { class: "row" }, el("h3", { text: inst.plugin }), el("label", { class: "switch" }, toggle, stateLabel)),
      el("p", { text: p.description }),
      el("p", { class: "muted", text: `${t("features.version")} ${inst.version} · ${t("features.priority")} ${inst.priority}` }),
      el("a", { class: "button", href: `#/accounts/${enc(account)}/features/${enc(inst.plugin)}`, text: t("features.configure") }),
    );
  });

  const available = [...byName.values()].filter((p) => !installed.has(p.name));
  const availableCards = available.map((p) => {
    const btn = el("button", { type: "button", text: t("features.install") });
    btn.addEventListener("click", async () => {
      status.replaceChildren();
      try {
        await api("POST", `/accounts/${enc(account)}/installations`, { plugin: p.name, grants: [] });
        location.hash = `#/accounts/${enc(account)}/features/${enc(p.name)}`;
      } catch (e) {
        status.append(notice("error", errorText(e)));
      }
    });
    return el(
      "li",
      { class: "card plugin", "data-plugin": p.name },
      el("h3", { text: p.name }),
      el("p", { text: p.description }),
      el("p", { class: "muted", text: `${t("features.version")} ${p.version}` }),
      btn,
    );
  });

  page(
    t("features.title"),
    status,
    el("h2", { text: t("features.installed") }),
    installedCards.length ? el("ul", { class: "cards" }, installedCards) : el("p", { class: "muted", text: t("features.none_installed") }),
    el("h2", { text: t("features.available") }),
    availableCards.length ? el("ul", { class: "cards" }, availableCards) : el("p", { class: "muted", text: t("features.none_available") }),
  );
}

function compareVersions(a, b) {
  const pa = a.split(/[.+-]/).map((x) => (isNaN(+x) ? x : +x));
  const pb = b.split(/[.+-]/).map((x) => (isNaN(+x) ? x : +x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    if (pa[i] === undefined) return -1;
    if (pb[i] === undefined) return 1;
    return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

export async function pluginPage(account, plugin) {
  const base = `/accounts/${enc(account)}/installations/${enc(plugin)}`;
  const [inst, { versions }, { errors }] = await Promise.all([
    api("GET", base),
    api("GET", `/plugins/${enc(plugin)}`),
    api("GET", `${base}/errors`).catch(() => ({ errors: [] })),
  ]);
  const info = versions.find((v) => v.version === inst.version) || versions[versions.length - 1];

  // Configuration, generated from the schema.
  const configStatus = el("div");
  const formBox = el("div", { id: "config-form" });
  let form = null;
  const configSection = el("section", { class: "card", id: "config" }, el("h2", { text: t("plugin.config") }));
  if (info.config_schema) {
    form = schemaForm(formBox, info.config_schema, inst.config);
    const save = el("button", { type: "submit", text: t("plugin.config.save") });
    const f = el("form", { novalidate: true }, formBox, configStatus, save);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      configStatus.replaceChildren();
      let config;
      try {
        config = form.value();
      } catch (e) {
        form.showErrors([{ pointer: e.pointer || "", message: e.message }]);
        return;
      }
      try {
        await api("PATCH", base, { config });
        form.showErrors([]);
        configStatus.append(notice("ok", t("saved")));
      } catch (e) {
        if (e.code === "invalid" && /schema/.test(e.message)) {
          form.showErrors(parseSchemaErrors(e.message));
          configStatus.append(notice("error", t("plugin.config.invalid")));
        } else {
          configStatus.append(notice("error", errorText(e)));
        }
      }
    });
    configSection.append(f);
  } else {
    configSection.append(el("p", { class: "muted", text: t("plugin.config.none") }));
  }

  // Capabilities: what the plugin asks for, in plain words, granted one by one.
  const capStatus = el("div");
  const granted = new Set(inst.grants || []);
  const boxes = info.capabilities.map((cap) => {
    const box = el("input", { type: "checkbox", value: cap, checked: granted.has(cap), id: `cap-${cap.replace(/[^a-z0-9]/gi, "-")}` });
    return [cap, box];
  });
  const capSection = el("section", { class: "card", id: "capabilities" }, el("h2", { text: t("plugin.capabilities") }));
  if (boxes.length) {
    capSection.append(el("p", { class: "muted", text: t("plugin.capabilities.intro") }));
    capSection.append(
      el(
        "ul",
        { class: "caps" },
        boxes.map(([cap, box]) =>
          el("li", {}, box, el("label", { for: box.id }, el("strong", { text: capabilityText(cap) }), el("code", { text: cap }))),
        ),
      ),
    );
    const save = el("button", { type: "button", text: t("plugin.capabilities.save") });
    save.addEventListener("click", async () => {
      capStatus.replaceChildren();
      // Grants the plugin does not ask for (kept from before) stay as they are.
      const keep = [...granted].filter((g) => !info.capabilities.includes(g));
      const grants = [...keep, ...boxes.filter(([, b]) => b.checked).map(([c]) => c)];
      try {
        await api("PATCH", base, { grants });
        capStatus.append(notice("ok", t("saved")));
      } catch (e) {
        capStatus.append(notice("error", errorText(e)));
      }
    });
    capSection.append(capStatus, save);
  } else {
    capSection.append(el("p", { class: "muted", text: t("plugin.capabilities.none") }));
  }

  // Versions: upgrade and roll back.
  const verStatus = el("div");
  const verSection = el(
    "section",
    { class: "card", id: "versions" },
    el("h2", { text: t("plugin.versions") }),
    el(
      "ul",
      { class: "versions" },
      versions.map((v) => {
        const cmp = compareVersions(v.version, inst.version);
        const item = el("li", {}, el("span", { class: "version", text: v.version }));
        if (cmp === 0) item.append(el("span", { class: "badge", text: t("plugin.versions.current") }));
        else {
          const btn = el("button", { type: "button", class: "secondary", text: cmp > 0 ? t("plugin.versions.upgrade") : t("plugin.versions.rollback") });
          btn.addEventListener("click", async () => {
            verStatus.replaceChildren();
            try {
              await api("PATCH", base, { version: v.version });
              await pluginPage(account, plugin);
            } catch (e) {
              verStatus.append(notice("error", errorText(e)));
            }
          });
          item.append(btn);
        }
        return item;
      }),
    ),
    verStatus,
  );

  const errSection = el(
    "section",
    { class: "card", id: "errors" },
    el("h2", { text: t("plugin.errors") }),
    errors.length
      ? el(
          "ul",
          { class: "errors" },
          errors
            .slice()
            .reverse()
            .map((e) => el("li", {}, el("span", { class: "muted", text: `${fmtTime(e.at)} · ${e.version} · ${e.call} · ${e.kind}` }), el("br"), e.message)),
        )
      : el("p", { class: "muted", text: t("plugin.errors.none") }),
  );

  const uninstall = el("button", { type: "button", class: "danger", text: t("plugin.uninstall") });
  uninstall.addEventListener("click", async () => {
    if (!confirm(t("plugin.uninstall.confirm", { plugin, account }))) return;
    try {
      await api("DELETE", base);
      location.hash = `#/accounts/${enc(account)}/features`;
    } catch (e) {
      verStatus.append(notice("error", errorText(e)));
    }
  });

  page(
    plugin,
    el("p", { text: info.description }),
    el("p", { class: "muted" }, el("a", { href: `#/accounts/${enc(account)}/features`, text: `← ${t("features.title")}` })),
    configSection,
    capSection,
    verSection,
    errSection,
    uninstall,
  );
}

// ---- event log ------------------------------------------------------------------------------

function eventDetail(e) {
  const parts = [];
  if (e.msg_type) parts.push(e.msg_type);
  if (e.event) parts.push(e.event);
  if (e.event_key) parts.push(e.event_key);
  if (e.delivery) parts.push(e.delivery);
  if (e.plugin) parts.push(`[${e.plugin}]`);
  if (e.plugin_kind) parts.push(e.plugin_kind);
  if (e.http) parts.push(`${e.http.method || ""} ${e.http.host || e.http.url || ""} ${e.http.status ?? ""}`);
  if (e.properties && Object.keys(e.properties).length) parts.push(JSON.stringify(e.properties));
  return parts.join(" · ");
}

export async function eventsPage(account) {
  const kinds = el("input", { placeholder: "inbound_message,follower_event" });
  const openid = el("input");
  const body = el("tbody");
  const more = el("button", { type: "button", class: "secondary", text: t("events.more"), hidden: true });
  const status = el("div");
  let cursor = null;
  const load = async (reset) => {
    status.replaceChildren();
    if (reset) {
      body.replaceChildren();
      cursor = null;
    }
    const q = new URLSearchParams({ limit: "100" });
    if (kinds.value.trim()) q.set("kinds", kinds.value.trim());
    if (openid.value.trim()) q.set("openid", openid.value.trim());
    if (cursor) q.set("cursor", cursor);
    try {
      const r = await api("GET", `/accounts/${enc(account)}/events?${q}`);
      for (const e of r.events) {
        body.append(el("tr", {}, el("td", { text: fmtTime(e.at) }), el("td", { text: e.kind }), el("td", { text: e.openid || "" }), el("td", { text: eventDetail(e) })));
      }
      if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: t("events.empty") })));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  };
  more.addEventListener("click", () => load(false));
  const form = el("form", { class: "filters" }, field(t("events.kinds"), kinds), field(t("events.openid"), openid), el("button", { type: "submit", text: t("events.filter") }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load(true);
  });
  page(
    t("events.title"),
    form,
    status,
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { id: "events" },
        el("thead", {}, el("tr", {}, ["events.at", "events.kind", "events.follower", "events.detail"].map((k) => el("th", { text: t(k) })))),
        body,
      ),
    ),
    more,
  );
  await load(true);
}

// ---- broadcasts -----------------------------------------------------------------------------

export async function broadcastsPage(account) {
  const list = el("tbody");
  const status = el("div");
  let timer = null;
  let stopped = false;

  const refresh = async () => {
    const { broadcasts } = await api("GET", `/accounts/${enc(account)}/broadcasts`);
    list.replaceChildren(
      ...(broadcasts.length
        ? broadcasts.map((b) =>
            el(
              "tr",
              {},
              el("td", { text: fmtTime(b.created_at) }),
              el("td", { text: typeof b.audience === "string" ? b.audience : JSON.stringify(b.audience) }),
              el("td", { text: (b.content && b.content.content) || b.content?.msg_type || "" }),
              el("td", { text: t("bc.status." + b.status) + (b.at && b.status === "scheduled" ? ` (${fmtTime(b.at)})` : "") }),
              el("td", {}, el("progress", { max: 100, value: b.percent }), ` ${b.delivered}/${b.total}`),
            ),
          )
        : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: t("bc.empty") }))]),
    );
    // Refreshed while a job is on its way.
    clearTimeout(timer);
    if (!stopped && broadcasts.some((b) => b.status !== "done")) timer = setTimeout(() => refresh().catch(() => {}), 2000);
  };

  const audience = el(
    "select",
    {},
    el("option", { value: "all", text: t("bc.audience.all") }),
    el("option", { value: "tag", text: t("bc.audience.tag") }),
    el("option", { value: "segment", text: t("bc.audience.segment") }),
    el("option", { value: "openids", text: t("bc.audience.openids") }),
  );
  const tag = el("input");
  const segment = el("input", { placeholder: "tag:vip and active_within 7d" });
  const openids = el("textarea", { rows: 2 });
  const text = el("textarea", { id: "bc-text", rows: 3, required: true });
  const at = el("input", { id: "bc-at", type: "datetime-local" });
  const tagField = field(t("bc.tag"), tag);
  const segmentField = field(t("bc.segment"), segment);
  const idsField = field(t("bc.openids"), openids);
  const preview = el("div", { id: "bc-preview", class: "preview", "aria-live": "polite" });
  const audienceJson = () =>
    audience.value === "all"
      ? "all"
      : audience.value === "tag"
        ? { tag: tag.value.trim() }
        : audience.value === "segment"
          ? { segment: segment.value.trim() }
          : { openids: openids.value.split(/[\s,]+/).filter(Boolean) };
  // The audience and the quota it draws on, asked again (debounced) whenever the audience or
  // the time changes, so the operator sees what a send would do before sending.
  let previewTimer = null;
  let previewSeq = 0;
  const showPreview = () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const seq = ++previewSeq;
      const q = new URLSearchParams();
      const a = audienceJson();
      if (a.tag !== undefined) q.set("tag", a.tag);
      if (a.segment !== undefined) q.set("segment", a.segment);
      if (a.openids !== undefined) q.set("openids", a.openids.join(","));
      if (at.value) q.set("at", String(new Date(at.value).getTime()));
      if ((a.tag !== undefined && !a.tag) || (a.segment !== undefined && !a.segment)) {
        preview.replaceChildren();
        return;
      }
      try {
        const p = await api("GET", `/accounts/${enc(account)}/broadcasts/preview?${q}`);
        if (seq !== previewSeq) return;
        const quota =
          p.quota.rule === "per_day"
            ? t("bc.quota.day", { remaining: p.quota.remaining, limit: p.quota.limit, period: p.quota.period, resets: fmtTime(p.quota.resets_at) })
            : t("bc.quota.month", { limit: p.quota.limit, period: p.quota.period, resets: fmtTime(p.quota.resets_at) });
        preview.replaceChildren(
          el("p", { id: "bc-reach" }, el("strong", { text: t("bc.reach", { reachable: p.reachable, recipients: p.recipients }) })),
          el("p", { class: "muted", id: "bc-quota", text: quota }),
          p.sample.length ? el("p", { class: "muted", text: t("bc.sample", { sample: p.sample.join(", ") + (p.recipients > p.sample.length ? " …" : "") }) }) : null,
        );
      } catch (e) {
        if (seq !== previewSeq) return;
        preview.replaceChildren(notice("error", errorText(e)));
      }
    }, 300);
  };
  const sync = () => {
    tagField.hidden = audience.value !== "tag";
    segmentField.hidden = audience.value !== "segment";
    idsField.hidden = audience.value !== "openids";
    showPreview();
  };
  audience.addEventListener("change", sync);
  for (const input of [tag, segment, openids, at]) input.addEventListener("input", showPreview);
  sync();
  const form = el(
    "form",
    { class: "card", id: "compose" },
    el("h2", { text: t("bc.compose") }),
    field(t("bc.audience"), audience),
    tagField,
    segmentField,
    idsField,
    field(t("bc.text"), text),
    field(t("bc.at"), at),
    preview,
    status,
    el("button", { type: "submit", text: t("bc.send") }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    const body = {
      idempotency_key: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random(),
      audience: audienceJson(),
      content: { msg_type: "text", content: text.value },
    };
    if (at.value) body.at = new Date(at.value).getTime();
    try {
      const job = await api("POST", `/accounts/${enc(account)}/broadcasts`, body);
      status.append(notice("ok", t("bc.sent", { id: job.id })));
      text.value = "";
      showPreview();
      await refresh();
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  });
  page(
    t("bc.title"),
    form,
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { id: "broadcasts" },
        el("thead", {}, el("tr", {}, ["events.at", "bc.audience", "bc.text", "bc.status", "bc.progress"].map((k) => el("th", { text: t(k) })))),
        list,
      ),
    ),
  );
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
