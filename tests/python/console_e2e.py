"""The web console in a real headless Chromium, against a real `plaza serve --demo`.

Usage: console_e2e.py BASE_URL TOKEN SCREENSHOT_DIR CHROMIUM [ARG ...]

Signs in, opens the demo account's features page, adds an auto-reply rule through the form
generated from the plugin's JSON schema (first with a bad value, which the server refuses and
the form shows at the field), follows and chats in the follower simulator until the new rule's
reply arrives live, then switches to Chinese. Any uncaught error in the page fails the run.
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

        browser.close()
    assert not errors, f"errors in the page: {errors}"
    print("ok")


if __name__ == "__main__":
    main()
