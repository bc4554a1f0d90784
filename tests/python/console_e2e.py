"""The web console in a real headless Chromium, against a real `plaza serve --demo`.

Usage: console_e2e.py BASE_URL TOKEN SCREENSHOT_DIR CHROMIUM [ARG ...]

Signs in, opens the demo account's features page, adds an auto-reply rule through the form
generated from the plugin's JSON schema (first with a bad value, which the server refuses and
the form shows at the field), follows and chats in the follower simulator until the new rule's
reply arrives live, switches to Chinese and to a phone-sized screen, then goes through the
operator pages: the segment builder's live count, a broadcast with its audience preview run to
done, the dashboard's charts and the analytics plugin's page, the customer-service seat, the
audit log, tokens and security events. Any uncaught error in the page fails the run.
Screenshots go to SCREENSHOT_DIR.
"""

import os
import sys

from playwright.sync_api import expect, sync_playwright

KEYWORD = "plaza-e2e"
REPLY = "The E2E rule answered"


def main():
    base, token, shots, chromium, *args = sys.argv[1:]
    os.makedirs(shots, exist_ok=True)
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args, headless=True)
        context = browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def shot(name):
            page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)

        # Sign in: a wrong token is refused, the right one opens the accounts.
        page.goto(base + "/")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.fill("#token", "wrong-token")
        page.click("#signin button[type=submit]")
        expect(page.locator("#signin .notice.error")).to_be_visible()
        page.fill("#token", token)
        page.click("#signin button[type=submit]")
        expect(page.locator("#accounts")).to_contain_text("demo")
        shot("01-accounts")

        # The features page lists auto-reply as installed; configure it.
        page.click("#accounts a[href='#/accounts/demo/features']")
        card = page.locator("li.plugin[data-plugin='auto-reply']")
        expect(card).to_contain_text("Enabled")
        shot("02-features")
        card.locator("a.button").click()
        expect(page.locator("#config")).to_be_visible()
        expect(page.locator("#capabilities")).to_contain_text("Keep its own data")

        # A new rule with an empty keyword: the server's schema error shows at that field.
        rules = page.locator("#config .field-array[data-pointer='/rules']")
        rules.locator("> fieldset > button.add").click()
        item = rules.locator(".items > .item").last
        keyword = item.locator(".field[data-pointer$='/keyword']")
        keyword.locator("input").fill("")
        item.locator(".field[data-pointer$='/reply'] textarea, .field[data-pointer$='/reply'] input").fill(REPLY)
        page.click("#config button[type=submit]")
        expect(keyword.locator(".field-error")).to_be_visible()
        expect(keyword.locator(".field-error")).to_contain_text("shorter than 1 character")
        expect(page.locator("#config .notice.error")).to_be_visible()
        shot("03-schema-error")

        # Fixed: saved.
        keyword.locator("input").fill(KEYWORD)
        page.click("#config button[type=submit]")
        expect(page.locator("#config .notice.ok")).to_be_visible()
        expect(keyword.locator(".field-error")).to_be_hidden()

        # The simulator: a new follower follows and sends the keyword; replies arrive live.
        page.click("#account-nav a[data-section='simulator']")
        page.fill("#sim-openid", "e2e-fan")
        page.click(".sim-pick button[type=submit]")
        expect(page.locator("#sim-live")).to_have_text("live")
        page.click("#sim-follow")
        expect(page.locator(".bubble.them").first).to_contain_text("Welcome to the Plaza demo")
        page.fill("#sim-text", KEYWORD)
        page.press("#sim-text", "Enter")
        answer = page.locator(".bubble.them", has_text=REPLY)
        expect(answer).to_be_visible()
        expect(answer).to_have_attribute("data-plugin", "auto-reply")
        expect(answer).to_contain_text("from auto-reply")
        shot("04-simulator")

        # Chinese: the same page, every label from the Chinese dictionary.
        page.select_option("#lang", "zh")
        expect(page.locator("h1")).to_have_text("粉丝模拟器")
        expect(page.locator("#account-nav a[data-section='features']")).to_have_text("功能")
        expect(page.locator(".bubble.them", has_text=REPLY)).to_contain_text("来自 auto-reply")
        shot("05-simulator-zh")

        # A phone-sized screen: the features page still fits.
        page.set_viewport_size({"width": 390, "height": 844})
        page.click("#account-nav a[data-section='features']")
        expect(page.locator("h1")).to_have_text("功能")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the features page scrolls sideways on a phone: {width}px"
        shot("06-features-phone-zh")

        # Back to English on a desktop screen for the operator pages.
        page.set_viewport_size({"width": 1200, "height": 900})
        page.select_option("#lang", "en")

        # Followers: the segment builder counts the matching followers as conditions change.
        page.click("#account-nav a[data-section='followers']")
        expect(page.locator("#seg-count")).to_contain_text("1 subscribed followers match")
        page.click("#seg-add")
        row = page.locator("#seg-rows .seg-row").last
        row.locator("select[name=kind]").select_option("region")
        row.locator("input[name=value]").fill("Atlantis")
        expect(page.locator("#seg-expr")).to_have_value("region = Atlantis")
        expect(page.locator("#seg-count")).to_contain_text("0 subscribed followers match")
        shot("07-followers-segment")

        # A broadcast: the composer shows whom it reaches and the quota; the job runs to done.
        page.click("#account-nav a[data-section='broadcasts']")
        expect(page.locator("#bc-reach")).to_contain_text("Reaches 1 of 1 followers")
        expect(page.locator("#bc-quota")).to_contain_text("Service account")
        page.fill("#bc-text", "E2E broadcast")
        page.click("#compose button[type=submit]")
        expect(page.locator("#broadcasts tr", has_text="E2E broadcast")).to_contain_text("done")
        expect(page.locator("#broadcasts tr", has_text="E2E broadcast")).to_contain_text("1/1")
        shot("08-broadcast-done")

        # The dashboard: growth, active hours, regions and gender as charts; the analytics
        # plugin's operator page opens inside the console.
        page.click("#account-nav a[data-section='dashboard']")
        expect(page.locator("svg.chart").first).to_be_visible()
        expect(page.locator("#dash-hours svg")).to_be_visible()
        expect(page.locator("#dash-gender svg")).to_be_visible()
        shot("09-dashboard")
        page.locator("#dash-plugin-pages a", has_text="analytics").click()
        expect(page.frame_locator("#plugin-page").locator("svg").first).to_be_visible()
        shot("10-analytics-page")

        # Customer service: an operator answers the follower from the seat.
        page.click("#account-nav a[data-section='service']")
        expect(page.locator("h1")).to_have_text("Customer service (人工客服)")
        page.goto(base + "/#/accounts/demo/service/e2e-fan")
        page.fill("#cs-text", "Hello from a person")
        page.click("#cs-form button[type=submit]")
        expect(page.locator("#cs-status .notice.ok")).to_be_visible()
        expect(page.locator("#cs-history")).to_contain_text("Hello from a person")
        shot("11-customer-service")

        # The account's audit log shows the console's changes.
        page.click("#account-nav a[data-section='audit']")
        expect(page.locator("#audit")).to_contain_text("PATCH /accounts/demo/installations/auto-reply")
        expect(page.locator("#audit")).to_contain_text("console")

        # Platform pages: a token is created (shown once) and listed; security events.
        page.click("#account-nav a[href='#/accounts']")
        page.click("#account-nav a[data-section='tokens']")
        page.fill("#tok-name", "e2e-analyst")
        page.select_option("#tok-role", "analyst")
        page.fill("#tok-accounts", "demo")
        page.click("#tok-form button[type=submit]")
        expect(page.locator("#tok-form .notice.ok")).to_contain_text("shown only this once")
        expect(page.locator("#tokens")).to_contain_text("e2e-analyst")
        shot("12-tokens")
        page.click("#account-nav a[data-section='security']")
        expect(page.locator("h1")).to_have_text("Security events")
        expect(page.locator("#security")).to_be_visible()

        browser.close()
    assert not errors, f"errors in the page: {errors}"
    print("ok")


if __name__ == "__main__":
    main()
