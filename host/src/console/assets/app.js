// The console's shell: sign-in, language switch, the account menu and routing by URL fragment
// (`#/accounts/{id}/features`), so the server only serves `/`.

import { api, setToken, token } from "./api.js";
import { lang, setLang, t, translateStatic } from "./i18n.js";
import { el, errorText, notice, page } from "./ui.js";
import { accountsPage, broadcastsPage, dashboardPage, eventsPage, featuresPage, pluginOperatorPage, pluginPage } from "./pages.js";
import { auditPage, followersPage, menusPage, securityPage, templatesPage, tokensPage } from "./manage.js";
import { servicePage } from "./service.js";
import { simulatorPage } from "./simulator.js";

// Pages that hold a live connection (the simulator's stream) register a stop function here.
let leave = null;

function signinPage(reason) {
  const input = el("input", { id: "token", type: "password", autocomplete: "current-password", required: true });
  const status = el("div");
  if (reason) status.append(notice("error", reason));
  const form = el(
    "form",
    { class: "card narrow", id: "signin" },
    el("p", { class: "muted", text: t("signin.intro") }),
    el("div", { class: "field" }, el("label", { for: "token", text: t("signin.token") }), input),
    status,
    el("button", { type: "submit", text: t("signin.submit") }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    try {
      await api("GET", "/system", undefined, input.value.trim());
      setToken(input.value.trim());
      chrome();
      if (!location.hash || location.hash === "#/signin") location.hash = "#/accounts";
      else route();
    } catch (e) {
      status.append(notice("error", e.status === 401 || e.status === 403 ? t("signin.bad") : errorText(e)));
    }
  });
  page(t("signin.title"), form);
  input.focus();
}

const accountTabs = [
  ["dashboard", "nav.dashboard"],
  ["features", "nav.features"],
  ["simulator", "nav.simulator"],
  ["followers", "nav.followers"],
  ["service", "nav.service"],
  ["templates", "nav.templates"],
  ["menu", "nav.menu"],
  ["events", "nav.events"],
  ["broadcasts", "nav.broadcasts"],
  ["audit", "nav.audit"],
];

const platformTabs = [
  ["accounts", "nav.accounts"],
  ["tokens", "nav.tokens"],
  ["security", "nav.security"],
  ["audit", "nav.audit"],
];

// The header: the sign-out button and, inside an account, its sections.
function chrome(account, section) {
  document.getElementById("signout").hidden = !token();
  const nav = document.getElementById("account-nav");
  if (!token()) {
    nav.hidden = true;
    nav.replaceChildren();
    return;
  }
  if (!account) {
    // Outside an account: the platform-wide pages (tokens, security events and the audit log
    // answer admins only; others see the server's refusal on the page).
    nav.hidden = false;
    nav.replaceChildren(
      ...platformTabs.map(([key, label]) =>
        el("a", { href: `#/${key}`, text: t(label), "aria-current": section === key ? "page" : null, "data-section": key }),
      ),
    );
    return;
  }
  nav.hidden = false;
  nav.replaceChildren(
    el("a", { href: "#/accounts", text: t("nav.accounts") }),
    el("span", { class: "crumb", text: account }),
    ...accountTabs.map(([key, label]) =>
      el("a", {
        href: `#/accounts/${encodeURIComponent(account)}/${key}`,
        text: t(label),
        "aria-current": section === key ? "page" : null,
        "data-section": key,
      }),
    ),
  );
}

async function route() {
  if (leave) {
    leave();
    leave = null;
  }
  translateStatic();
  if (!token()) {
    chrome();
    signinPage();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [root, account, section, sub] = parts;
  const inAccount = root === "accounts" && account;
  chrome(inAccount ? account : null, inAccount ? section || "dashboard" : root || "accounts");
  try {
    if (root === "tokens") return await tokensPage();
    if (root === "security") return await securityPage();
    if (root === "audit") return await auditPage(null);
    if (!inAccount) return await accountsPage();
    switch (section || "dashboard") {
      case "dashboard":
        return await dashboardPage(account);
      case "features":
        return sub ? await pluginPage(account, sub) : await featuresPage(account);
      case "simulator":
        leave = await simulatorPage(account, sub);
        return;
      case "pages":
        // `#/accounts/{a}/pages/{plugin}/{path…}`
        return await pluginOperatorPage(account, sub, "/" + parts.slice(4).map(encodeURIComponent).join("/"));
      case "followers":
        return await followersPage(account, sub);
      case "templates":
        return await templatesPage(account);
      case "menu":
        return await menusPage(account);
      case "audit":
        return await auditPage(account);
      case "service":
        leave = await servicePage(account, sub);
        return;
      case "events":
        return await eventsPage(account);
      case "broadcasts":
        leave = await broadcastsPage(account);
        return;
      default:
        return await accountsPage();
    }
  } catch (e) {
    if (e.status === 401) {
      setToken(null);
      chrome();
      signinPage(t("signin.bad"));
      return;
    }
    page(t("error.generic", { message: "" }), notice("error", errorText(e)));
  }
}

function start() {
  const select = document.getElementById("lang");
  select.value = lang();
  select.addEventListener("change", () => {
    setLang(select.value);
    route();
  });
  document.getElementById("signout").addEventListener("click", () => {
    setToken(null);
    location.hash = "#/signin";
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
