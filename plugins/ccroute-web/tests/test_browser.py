"""The three pages in headless Chromium against a live centre (service + web app).

The story a contact centre lives by: a customer writes in the widget, an agent
signs in and becomes available, sees the offer with its context, accepts, they
talk both ways, the agent completes with a disposition, and the wallboard's
figures move at every step. Also: a reload resumes the conversation, two
agents work at once, and a customer who closes the page abandons.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from browser_support import (
    GRACE,
    PASSWORD,
    Live,
    Pages,
    browser,
    live,
    live_with_bot,
    pages,
    screenshots,
)
from playwright.sync_api import expect

__all__ = ["browser", "live", "live_with_bot", "pages", "screenshots"]  # fixtures, used by name

expect.set_options(timeout=10_000)

DESKTOP_VIEW = {"width": 1440, "height": 860}
WALLBOARD_VIEW = {"width": 1600, "height": 900}
WIDGET_VIEW = {"width": 420, "height": 640}


def open_widget(pages: Pages, live: Live) -> Any:
    """A customer's widget page in a browser context of its own."""
    return pages.open(f"{live.url}/widget", WIDGET_VIEW)


def start_chat(page: Any, name: str, text: str) -> None:
    page.get_by_label("Your name").fill(name)
    page.get_by_label("How can we help?").fill(text)
    page.get_by_role("button", name="Start chat").click()
    expect(page.locator("#transcript")).to_contain_text(text)


def sign_in(pages: Pages, url: str, user: str, view: dict[str, int]) -> Any:
    page = pages.open(url, view)
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def agent_desktop(pages: Pages, live: Live, user: str) -> Any:
    """An agent signed in on the desktop and set Available."""
    page = sign_in(pages, f"{live.url}/desktop", user, DESKTOP_VIEW)
    expect(page.locator("#agent-name")).not_to_be_empty()
    page.get_by_label("Presence", exact=True).select_option("available")
    # Busy at once when a contact was waiting for it (the offer counts as work).
    expect(page.locator("#status-text")).to_have_text(re.compile("Available|Busy"))
    return page


def wallboard(pages: Pages, live: Live) -> Any:
    page = sign_in(pages, f"{live.url}/wallboard", "sam", WALLBOARD_VIEW)
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def figure(board: Any, queue: str, name: str) -> Any:
    return board.locator(f'[data-queue="{queue}"] [data-figure="{name}"] .v')


def agents_in(board: Any, state: str) -> Any:
    return board.locator(f'[data-state="{state}"] .v')


def offer_card(desk: Any, customer: str) -> Any:
    return desk.locator(".offer", has_text=customer)


def test_chat_from_widget_to_wrap_up_moves_the_wallboard(
    pages: Pages, live: Live, screenshots: Path
) -> None:
    board = wallboard(pages, live)
    expect(figure(board, "support", "offered")).to_have_text("0")
    expect(agents_in(board, "offline")).to_have_text("3")

    customer = open_widget(pages, live)
    customer.screenshot(path=screenshots / "widget-start.png")
    start_chat(customer, "Dana Whitfield", "My parcel says delivered but it is not here.")
    # No agent is available: the customer waits, and is told where in line.
    expect(customer.locator("#status")).to_contain_text("You are number 1 in line")
    expect(figure(board, "support", "waiting")).to_have_text("1")
    expect(figure(board, "support", "offered")).to_have_text("1")
    customer.screenshot(path=screenshots / "widget-waiting.png")

    # A card number the customer typed reaches the agent masked (the service masks by default).
    customer.get_by_label("Your message").fill("I paid with card 4111 1111 1111 1111.")
    customer.get_by_label("Your message").press("Enter")
    expect(customer.locator("#transcript")).to_contain_text("I paid with card")

    desk = agent_desktop(pages, live, "alice")
    offer = offer_card(desk, "Dana Whitfield")
    expect(offer).to_contain_text("My parcel says delivered")
    expect(desk.locator("#placeholder")).to_contain_text("I paid with card")
    expect(desk.locator("body")).not_to_contain_text("4111 1111 1111 1111")
    expect(offer).to_contain_text("support")
    expect(offer.locator(".countdown-text")).to_contain_text("Answer within")
    desk.screenshot(path=screenshots / "desktop-offer.png")
    offer.get_by_role("button", name="Accept").click()
    expect(offer).to_have_count(0)

    expect(customer.locator("#headline")).to_have_text("is chatting with you")
    expect(customer.locator("#widget-title")).to_have_text("Alice Martin")
    expect(figure(board, "support", "answered")).to_have_text("1")
    expect(figure(board, "support", "waiting")).to_have_text("0")
    expect(agents_in(board, "busy")).to_have_text("1")

    # Both ways.
    reply = desk.get_by_label("Reply")
    reply.fill("Hello Dana, let me check where your parcel is.")
    reply.press("Enter")
    expect(customer.locator("#transcript")).to_contain_text("let me check where your parcel is")
    customer.get_by_label("Your message").fill("Thank you! Order A-10023.")
    customer.get_by_role("button", name="Send").click()
    expect(desk.locator(".pane:not([hidden]) .transcript")).to_contain_text("Order A-10023")
    expect(desk.get_by_role("tab", name="Dana Whitfield")).to_be_visible()
    customer.screenshot(path=screenshots / "widget-chat.png")
    desk.screenshot(path=screenshots / "desktop-chat.png")

    # Complete, then wrap up with a disposition (the queue requires one).
    desk.get_by_role("button", name="End chat").click()
    expect(customer.locator("#ended")).to_contain_text("closed this chat")
    customer.screenshot(path=screenshots / "widget-ended.png")
    expect(agents_in(board, "wrap-up")).to_have_text("1")
    desk.get_by_role("button", name="Finish wrap-up").click()
    expect(desk.locator(".wrapup-error")).to_have_text("Choose a disposition.")
    desk.screenshot(path=screenshots / "desktop-wrap-up.png")
    desk.get_by_label("Disposition").select_option("resolved")
    desk.get_by_role("button", name="Finish wrap-up").click()
    expect(desk.get_by_role("tab")).to_have_count(0)
    expect(desk.locator("#stat-handled")).to_have_text("1")
    expect(agents_in(board, "idle")).to_have_text("1")
    expect(agents_in(board, "wrap-up")).to_have_text("0")
    expect(figure(board, "support", "sl-today")).to_have_text("100%")
    # At or above the queue's target (80%): green.
    expect(figure(board, "support", "sl-today")).to_have_class(re.compile(r"\bgood\b"))
    board.screenshot(path=screenshots / "wallboard.png")
    desk.screenshot(path=screenshots / "desktop-after.png")

    # The log agrees with what the pages showed.
    metrics = live.service.metrics.report(live.service.router.now)
    support = metrics.queues["support"]
    assert (support.offered, support.answered, support.abandoned) == (1, 1, 0)
    assert dict(support.dispositions) == {"resolved": 1}


def test_a_reload_within_the_grace_period_resumes_the_conversation(
    pages: Pages, live: Live
) -> None:
    desk = agent_desktop(pages, live, "bob")
    customer = open_widget(pages, live)
    start_chat(customer, "Tom Becker", "Can I change my delivery address?")
    offer_card(desk, "Tom Becker").get_by_role("button", name="Accept").click()
    desk.get_by_label("Reply").fill("Of course. What is the new address?")
    desk.get_by_label("Reply").press("Enter")
    expect(customer.locator("#transcript")).to_contain_text("What is the new address?")

    customer.reload()
    # Same conversation: the transcript comes back, once, and the chat goes on.
    transcript = customer.locator("#transcript")
    expect(transcript).to_contain_text("Can I change my delivery address?")
    expect(transcript).to_contain_text("What is the new address?")
    expect(transcript.locator(".msg", has_text="What is the new address?")).to_have_count(1)
    customer.get_by_label("Your message").fill("12 Harbour Road")
    customer.get_by_label("Your message").press("Enter")
    expect(desk.locator(".pane:not([hidden]) .transcript")).to_contain_text("12 Harbour Road")
    expect(desk.get_by_role("tab")).to_have_count(1)
    # The reload made no second contact.
    assert live.service.metrics.report(live.service.router.now).queues["support"].offered == 1


def test_two_agents_each_work_their_own_chats(pages: Pages, live: Live) -> None:
    alice = agent_desktop(pages, live, "alice")
    first = open_widget(pages, live)
    start_chat(first, "Maria Lopez", "I was charged twice.")
    offer_card(alice, "Maria Lopez").get_by_role("button", name="Accept").click()
    # Alice takes a break: the next chat goes to Carol.
    alice.get_by_label("Presence", exact=True).select_option("not-ready")
    expect(alice.locator("#status-text")).to_have_text("Busy")

    carol = agent_desktop(pages, live, "carol")
    carol.locator("#logout").focus()  # away from the presence menu
    second = open_widget(pages, live)
    start_chat(second, "Ken Ito", "Where is my order?")
    # From the keyboard: a new offer takes the focus to its Accept button.
    expect(offer_card(carol, "Ken Ito").get_by_role("button", name="Accept")).to_be_focused()
    carol.keyboard.press("Enter")
    expect(carol.get_by_role("tab", name="Ken Ito")).to_be_visible()
    expect(offer_card(alice, "Ken Ito")).to_have_count(0)

    alice.get_by_label("Reply").fill("Hello Maria, I see the double charge.")
    alice.get_by_label("Reply").press("Enter")
    carol.get_by_label("Reply").fill("Hello Ken, checking your order now.")
    carol.get_by_label("Reply").press("Enter")
    expect(first.locator("#transcript")).to_contain_text("double charge")
    expect(second.locator("#transcript")).to_contain_text("checking your order")
    # Nobody sees another's conversation.
    expect(first.locator("#transcript")).not_to_contain_text("checking your order")
    expect(second.locator("#transcript")).not_to_contain_text("double charge")
    expect(alice.get_by_role("tab")).to_have_count(1)
    expect(carol.get_by_role("tab")).to_have_count(1)
    expect(carol.get_by_role("tab", name="Ken Ito")).to_be_visible()


def test_a_customer_who_closes_the_page_abandons(
    pages: Pages, live: Live, screenshots: Path
) -> None:
    board = wallboard(pages, live)
    customer = open_widget(pages, live)
    start_chat(customer, "Lee Park", "Is anyone there?")
    expect(figure(board, "support", "waiting")).to_have_text("1")
    customer.context.close()
    # After the grace period the waiting contact abandons.
    expect(figure(board, "support", "abandoned")).to_have_text("1", timeout=(GRACE + 8) * 1000)
    expect(figure(board, "support", "waiting")).to_have_text("0")
    board.screenshot(path=screenshots / "wallboard-abandoned.png")
    support = live.service.metrics.report(live.service.router.now).queues["support"]
    assert (support.offered, support.answered, support.abandoned) == (1, 0, 1)


def test_the_chatbot_asks_first_and_its_answers_reach_the_screen_pop(
    pages: Pages, live_with_bot: Live, screenshots: Path
) -> None:
    live = live_with_bot
    customer = open_widget(pages, live)
    start_chat(customer, "Ana Silva", "Hello, I have a question.")
    # The bot's menu: quick answers as buttons.
    expect(customer.locator("#transcript")).to_contain_text("What is it about?")
    choices = customer.get_by_role("group", name="Quick answers")
    expect(choices.get_by_role("button")).not_to_have_count(0)
    customer.get_by_label("Your message").fill("1")
    customer.get_by_label("Your message").press("Enter")
    expect(customer.locator("#transcript")).to_contain_text("What is your order number?")
    expect(choices).to_have_count(0)
    customer.get_by_label("Your message").fill("A-10023")
    customer.get_by_label("Your message").press("Enter")
    expect(customer.locator("#status")).to_contain_text("You are number 1 in line")
    customer.screenshot(path=screenshots / "widget-bot.png")

    desk = agent_desktop(pages, live, "bob")
    expect(offer_card(desk, "Ana Silva")).to_contain_text("Intent: delivery")
    preview = desk.locator("#placeholder")
    expect(preview).to_contain_text("Answers before the chat")
    expect(preview.locator(".context")).to_contain_text("A-10023")
    expect(preview.locator(".context")).to_contain_text("delivery")
    desk.screenshot(path=screenshots / "desktop-screen-pop.png")
    offer_card(desk, "Ana Silva").get_by_role("button", name="Accept").click()
    pane = desk.locator(".pane:not([hidden])")
    expect(pane.locator(".context")).to_contain_text("A-10023")
    # The agent reads what the bot and the customer said before.
    expect(pane.locator(".transcript")).to_contain_text("What is your order number?")


@contextlib.contextmanager
def another_site(page_html: str) -> Iterator[str]:
    """A web site of another origin (loopback, its own port) serving one page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page_html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/shop"
    finally:
        server.shutdown()
        server.server_close()


def test_the_widget_works_embedded_in_another_sites_page(pages: Pages, live: Live) -> None:
    # The README's snippet on a page of another origin.
    snippet = (
        f'<h1>Example shop</h1><iframe src="{live.url}/widget" title="Chat with us" '
        'style="width:380px;height:560px;border:0"></iframe>'
    )
    with another_site(snippet) as shop:
        site = pages.open(shop, DESKTOP_VIEW)
        widget = site.frame_locator('iframe[title="Chat with us"]')
        widget.get_by_label("Your name").fill("Iris Novak")
        widget.get_by_label("How can we help?").fill("Do you ship to Norway?")
        widget.get_by_role("button", name="Start chat").click()
        expect(widget.locator("#status")).to_contain_text("You are number 1 in line")
        desk = agent_desktop(pages, live, "carol")
        expect(offer_card(desk, "Iris Novak")).to_contain_text("Do you ship to Norway?")


def test_a_rejected_offer_goes_to_the_next_agent(pages: Pages, live: Live) -> None:
    alice = agent_desktop(pages, live, "alice")
    bob = agent_desktop(pages, live, "bob")
    customer = open_widget(pages, live)
    start_chat(customer, "Omar Haddad", "My invoice is wrong.")
    # Alice has been idle longest: the offer is hers first.
    offer = offer_card(alice, "Omar Haddad")
    offer.get_by_role("button", name="Reject").click()
    expect(offer).to_have_count(0)
    offer_card(bob, "Omar Haddad").get_by_role("button", name="Accept").click()
    expect(customer.locator("#widget-title")).to_have_text("Bob Chen")
    expect(alice.get_by_role("tab")).to_have_count(0)
    expect(bob.get_by_role("tab", name="Omar Haddad")).to_be_visible()
