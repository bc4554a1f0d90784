// The customer-service seat (人工客服): conversations that a plugin handed to a person, waiting
// ones first, and a conversation view where an operator answers the follower with a
// customer-service message. Outside the follower's 48 h window the server refuses the answer
// (409 outside_window); the page says so plainly instead of showing a generic error.

import { api, enc } from "./api.js";
import { t } from "./i18n.js";
import { el, errorText, fmtTime, notice, page } from "./ui.js";

// How often the queue is asked again while the page is open.
const REFRESH_MS = 5000;

export async function servicePage(account, openidFromUrl) {
  let stopped = false;
  let timer = null;
  const queueBody = el("tbody", { id: "cs-queue" });
  const filter = el(
    "select",
    { id: "cs-filter", "aria-label": t("cs.filter") },
    ["open", "waiting", "answered", "closed", "all"].map((s) => el("option", { value: s, text: t("cs.filter." + s) })),
  );
  const panel = el("section", { class: "card", id: "cs-conversation", hidden: true });

  const refresh = async () => {
    const { conversations } = await api("GET", `/accounts/${enc(account)}/service/conversations?status=${enc(filter.value)}`);
    queueBody.replaceChildren(
      ...(conversations.length
        ? conversations.map((c) =>
            el(
              "tr",
              { "data-openid": c.openid, "data-status": c.status },
              el("td", {}, el("a", { href: `#/accounts/${enc(account)}/service/${enc(c.openid)}`, text: c.openid }), (c.tags || []).length ? el("small", { class: "muted", text: " " + c.tags.join(", ") }) : null),
              el("td", { text: t("cs.status." + c.status) }),
              el("td", { text: fmtTime(c.transferred_at) }),
              el("td", { text: c.transferred_by || "" }),
              el("td", { text: c.message || "" }),
            ),
          )
        : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: t("cs.empty") }))]),
    );
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => refresh().catch(() => {}), REFRESH_MS);
  };
  filter.addEventListener("change", () => refresh().catch(() => {}));

  const openConversation = async (openid) => {
    panel.hidden = false;
    const history = el("ol", { class: "chat", id: "cs-history" });
    const status = el("div", { id: "cs-status" });
    const text = el("textarea", { id: "cs-text", rows: 3, required: true, "aria-label": t("cs.answer") });
    const send = el("button", { type: "submit", text: t("cs.send") });
    const close = el("button", { type: "button", class: "secondary", id: "cs-close", text: t("cs.close") });
    const load = async () => {
      const { messages } = await api("GET", `/accounts/${enc(account)}/followers/${enc(openid)}/messages`);
      history.replaceChildren(
        ...messages.slice(-50).map((m) =>
          el(
            "li",
            { class: "bubble them", "data-delivery": m.delivery },
            el("p", { text: m.msg_type === "text" ? m.content : m.msg_type === "transfer_customer_service" ? t("cs.handed_over") : `[${m.msg_type}]` }),
            el("small", { class: "meta", text: [fmtTime(m.at), t("sim.delivery." + m.delivery), m.plugin ? t("sim.from_plugin", { plugin: m.plugin }) : t("cs.by_person")].join(" · ") }),
          ),
        ),
      );
    };
    const form = el("form", { class: "composer", id: "cs-form" }, text, send);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      status.replaceChildren();
      try {
        await api("POST", `/accounts/${enc(account)}/service/conversations/${enc(openid)}/messages`, {
          content: { msg_type: "text", content: text.value },
        });
        text.value = "";
        status.append(notice("ok", t("cs.sent")));
        await load();
        await refresh();
      } catch (e) {
        status.append(notice("error", e.code === "outside_window" ? t("cs.outside_window", { detail: e.message }) : errorText(e)));
      }
    });
    close.addEventListener("click", async () => {
      status.replaceChildren();
      try {
        await api("POST", `/accounts/${enc(account)}/service/conversations/${enc(openid)}/close`, {});
        status.append(notice("ok", t("cs.closed")));
        await refresh();
      } catch (e) {
        status.append(notice("error", errorText(e)));
      }
    });
    panel.replaceChildren(el("h2", { text: t("cs.with", { openid }) }), history, status, form, close);
    await load();
  };

  page(
    t("cs.title"),
    el("p", { class: "muted", text: t("cs.intro") }),
    el("div", { class: "filters" }, filter),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { id: "cs-table" },
        el("thead", {}, el("tr", {}, ["cs.follower", "cs.status", "cs.since", "cs.by", "cs.message"].map((k) => el("th", { text: t(k) })))),
        queueBody,
      ),
    ),
    panel,
  );
  await refresh();
  if (openidFromUrl) await openConversation(openidFromUrl);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
