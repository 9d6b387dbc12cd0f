"""Embed ccroute: a durable service, one agent, contacts from code and from email.

Run: python examples/embed.py [DB]   (needs the email plugin: pip install -e plugins/ccroute-email)

Passing an EmailChannel in plugins=[...] is what turns the SMTP server on.
Installing ccroute-email alone opens no port: its entry-point channel listens
only when the settings say so (settings={"email": {"enabled": True, ...}}).
"""

import smtplib
import sys
import tempfile

import anyio
from ccroute_email import EmailChannel

from ccroute import Agent, Contact, OfferDelivery, Presence, QueueConfig, Service, hookimpl


class AgentDesktop:
    """The agents' side: offers arrive here once they are durable (email ones via the plugin)."""

    def __init__(self) -> None:
        self.offers: list[str] = []

    def show(self, delivery: OfferDelivery) -> None:
        print(f"offer: {delivery.contact.id} ({delivery.channel}) for {delivery.agent.id}")
        self.offers.append(delivery.contact.id)

    @hookimpl
    def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.show(delivery)
        return True


async def main(db: str) -> None:
    desktop = AgentDesktop()
    email = EmailChannel(port=0, queue="support", on_offer=desktop.show)  # port 0: any free one
    async with Service(path=db, plugins=[desktop, email]) as service:
        # The same set-up at every run: a second run resumes from the database,
        # and declaring what it holds again does nothing.
        await service.add_queue(QueueConfig("support", offer_timeout=None))
        await service.add_agent(Agent("alice", queues=["support"]), Presence.AVAILABLE)
        seen = len(desktop.offers)  # offers still open from a last run were delivered again
        await service.submit(Contact(f"chat-{len(service.router.contact_ids)}", "chat", "support"))
        mail = "From: ann@example.com\r\nSubject: Where is my parcel?\r\n\r\nOrder 42."
        with smtplib.SMTP("127.0.0.1", email.port) as smtp:  # a customer writes in
            await anyio.to_thread.run_sync(smtp.sendmail, "ann@example.com", ["help@centre"], mail)
        with anyio.fail_after(10):
            while len(desktop.offers) < seen + 2:  # the chat and the email, both offered to alice
                await anyio.sleep(0.01)
    print(f"done; state kept in {db}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp() + "/centre.db")
