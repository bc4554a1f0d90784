// The follower simulator: act as one follower of an account. What the follower sends goes
// through the local channel (`POST /accounts/{a}/inbound`), exactly as a channel bridge would
// send it; everything delivered to the follower — passive replies, customer-service messages,
// template messages, broadcasts — arrives through the outbox's event stream, live, labelled with
// the plugin that sent it.

import { api, enc, stream } from "./api.js";
import { t } from "./i18n.js";
import { el, errorText, fmtTime, notice, page } from "./ui.js";

export async function simulatorPage(account, openidFromUrl) {
  const { followers } = await api("GET", `/accounts/${enc(account)}/followers?limit=100`);
  let openid = openidFromUrl || null;
  let controller = null;

  const picker = el("select", { id: "sim-follower", "aria-label": t("sim.follower") }, el("option", { value: "", text: "—" }), followers.map((f) => el("option", { value: f.openid, text: f.nickname ? `${f.nickname} (${f.openid})` : f.openid })));
  const newId = el("input", { id: "sim-openid", placeholder: t("sim.new_openid"), "aria-label": t("sim.new_openid"), autocomplete: "off" });
  const use = el("button", { type: "submit", class: "secondary", text: t("sim.use") });
  const pick = el("form", { class: "sim-pick" }, el("label", { for: "sim-follower", text: t("sim.follower") }), picker, newId, use);

  const chat = el("ol", { class: "chat", id: "chat", "aria-live": "polite" });
  const menu = el("nav", { class: "sim-menu", id: "sim-menu", "aria-label": t("sim.menu") });
  const live = el("span", { class: "live", id: "sim-live" });
  const status = el("div");
  const input = el("input", { id: "sim-text", autocomplete: "off", "aria-label": t("sim.message"), placeholder: t("sim.message") });
  const send = el("button", { type: "submit", text: t("sim.send") });
  const composer = el("form", { class: "composer" }, input, send);
  const follow = el("button", { type: "button", class: "secondary", id: "sim-follow", text: t("sim.follow") });
  const unfollow = el("button", { type: "button", class: "link", id: "sim-unfollow", text: t("sim.unfollow") });
  const phone = el(
    "section",
    { class: "phone", hidden: true },
    el("header", {}, el("strong", { id: "sim-who" }), live, el("span", { class: "actions" }, follow, unfollow)),
    chat,
    menu,
    composer,
  );

  const bubble = (side, body, meta) => {
    const li = el("li", { class: `bubble ${side}` }, body, meta ? el("small", { class: "meta", text: meta }) : null);
    chat.append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  };

  // One outbox entry as a bubble: its text or media, its links clickable (signed links open the
  // plugin's page as this follower), and who sent it how.
  const showEntry = (m) => {
    const body = el("div", { class: "content" });
    if (m.msg_type === "text") body.append(el("p", { text: m.content }));
    else if (m.msg_type === "image" && m.url) body.append(el("img", { src: m.url, alt: m.media_id || "" }));
    else if (m.msg_type === "news" && Array.isArray(m.articles))
      for (const a of m.articles) body.append(el("p", {}, el("strong", { text: a.title || "" }), el("br"), a.description || ""));
    else body.append(el("p", { class: "muted", text: `[${m.msg_type}] ${m.title || m.media_id || ""}` }));
    if (m.links && m.links.length)
      body.append(el("p", { class: "links" }, m.links.map((l) => el("a", { href: l.url, target: "_blank", rel: "noopener", class: "msg-link", text: l.title || l.url }))));
    const meta = [fmtTime(m.at), t("sim.delivery." + m.delivery), m.plugin ? t("sim.from_plugin", { plugin: m.plugin }) : null].filter(Boolean).join(" · ");
    const li = bubble("them", body, meta);
    li.dataset.delivery = m.delivery;
    if (m.plugin) li.dataset.plugin = m.plugin;
  };

  const inbound = async (body, shown) => {
    status.replaceChildren();
    if (shown) bubble("me", el("p", { text: shown }), t("sim.you"));
    try {
      await api("POST", `/accounts/${enc(account)}/inbound`, { from: openid, ...body });
      if (body.msg_type === "event") await loadMenu();
    } catch (e) {
      status.append(notice("error", errorText(e)));
    }
  };

  const loadMenu = async () => {
    menu.replaceChildren();
    let data;
    try {
      data = await api("GET", `/accounts/${enc(account)}/followers/${enc(openid)}/menu`);
    } catch (e) {
      if (e.status !== 404) status.append(notice("error", errorText(e)));
      menu.append(el("span", { class: "muted", text: t("sim.no_menu") }));
      return;
    }
    const press = (b) => {
      if (b.type === "view" || b.type === "miniprogram") {
        inbound({ msg_type: "event", event: "view", event_key: b.url || b.pagepath || "" }, t("sim.event.view", { key: b.url || "" }));
        if (b.url) window.open(b.url, "_blank", "noopener");
      } else if (b.key) {
        inbound({ msg_type: "event", event: b.type === "click" ? "click" : b.type, event_key: b.key }, t("sim.event.click", { key: b.name }));
      }
    };
    for (const b of data.menu.button || []) {
      if (b.sub_button && b.sub_button.length) {
        const sub = el("div", { class: "submenu", hidden: true }, b.sub_button.map((s) => el("button", { type: "button", text: s.name, onclick: () => ((sub.hidden = true), press(s)) })));
        menu.append(el("div", { class: "menu-group" }, el("button", { type: "button", text: "≡ " + b.name, onclick: () => (sub.hidden = !sub.hidden) }), sub));
      } else {
        menu.append(el("button", { type: "button", text: b.name, onclick: () => press(b) }));
      }
    }
  };

  // Streams the follower's outbox from its start (history first, then live), reconnecting
  // after a dropped connection from the last entry seen.
  const connect = async () => {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    let last = "";
    while (!mine.signal.aborted) {
      try {
        live.textContent = t("sim.live");
        live.className = "live on";
        await stream(
          `/accounts/${enc(account)}/followers/${enc(openid)}/messages/stream?after=${enc(last)}`,
          (ev) => {
            if (ev.event !== "message") return;
            const m = JSON.parse(ev.data);
            last = m.id;
            showEntry(m);
          },
          mine.signal,
        );
      } catch (e) {
        if (mine.signal.aborted) return;
        if (e.status) {
          status.append(notice("error", errorText(e)));
          return;
        }
      }
      if (mine.signal.aborted) return;
      live.textContent = t("sim.offline");
      live.className = "live off";
      await new Promise((r) => setTimeout(r, 1500));
    }
  };

  const select = async (id) => {
    openid = id;
    history.replaceState(null, "", `#/accounts/${enc(account)}/simulator/${enc(id)}`);
    phone.hidden = false;
    hint.hidden = true;
    document.getElementById("sim-who").textContent = id;
    chat.replaceChildren();
    connect();
    await loadMenu();
    input.focus();
  };

  pick.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = newId.value.trim() || picker.value;
    if (id) select(id);
  });
  picker.addEventListener("change", () => picker.value && select(picker.value));
  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    const msgId = `sim-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    inbound({ msg_id: msgId, msg_type: "text", content: text }, text);
  });
  follow.addEventListener("click", () => inbound({ msg_type: "event", event: "subscribe" }, t("sim.event.subscribe")));
  unfollow.addEventListener("click", () => inbound({ msg_type: "event", event: "unsubscribe" }, t("sim.event.unsubscribe")));

  const hint = el("p", { class: "muted", text: t("sim.pick") });
  page(t("sim.title"), el("p", { class: "muted", text: t("sim.intro") }), pick, hint, status, phone);
  if (openid) {
    picker.value = followers.some((f) => f.openid === openid) ? openid : "";
    await select(openid);
  }
  return () => {
    if (controller) controller.abort();
  };
}
