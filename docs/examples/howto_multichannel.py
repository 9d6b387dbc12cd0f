"""How-to: one agent, several channels: capacity per channel, a shared unit budget, exclusive channels.

Run: python docs/examples/howto_multichannel.py
"""

from ccroute import Agent, Channel, ChannelKind, Contact, ManualClock, Presence, QueueConfig, Router

router = Router(ManualClock())
router.add_queue(QueueConfig("care", offer_timeout=None))
# A channel of our own: a video call costs the whole budget and is exclusive
# (an agent on video takes nothing else; one busy with anything takes no video).
router.add_channel(Channel("video-kyc", ChannelKind.SYNCHRONOUS, 1, unit_cost=100, exclusive=True))

# Capacity per channel (at most 3 chats, 5 emails), and a budget of 100 units
# shared across channels: a chat costs 33, an email 20 (BUILTIN_CHANNELS).
router.add_agent(
    Agent(
        "ana", queues={"care"}, capacity={"chat": 3, "email": 5, "video-kyc": 1}, unit_budget=100
    ),
    Presence.AVAILABLE,
)

for contact_id, channel in [
    ("chat-1", "chat"),
    ("chat-2", "chat"),
    ("mail-1", "email"),
    ("mail-2", "email"),
    ("video-1", "video-kyc"),
]:
    router.submit(Contact(contact_id, channel, "care"))

with_ana = sorted(c for c in router.contact_ids if router.contact(c).agent_id == "ana")
waiting = [view.id for view in router.waiting()]
print("offered to ana:", with_ana)  # 33 + 33 + 20 = 86 units: a second email would be 106
print("waiting:", waiting)  # the second email (over budget) and the video (exclusive)
assert with_ana == ["chat-1", "chat-2", "mail-1"]
assert waiting == ["mail-2", "video-1"]
