"""The records of the format-4 golden log: every command and every event class of format 4.

``make_golden.py`` (one directory up) writes them to ``log.db`` and their
JSON bodies to ``records.jsonl``; tests/test_golden.py reads those files with
the current code and checks that they decode to exactly these values, and
that these values encode to exactly those bytes.

Never change this file: it stands for logs already on disk. A new format adds
a directory (``tests/golden/v5``) with its own records; these stay.

Format 4 is format 3 with the notes of IVR flows run live in the service,
logged so that a restart after a crash routes the callers still in a flow:
``flow_started`` (the flow's name and the contact a recovery routes) and
``flow_advanced`` (the node waiting now and that contact as of now). The
records are format 3's, with a caller's flow added at the end: started,
advanced, recovered after a crash and routed to the fallback queue.

The values are a plausible day in a small centre rather than one replayable
run: the store does not replay, and a hand-written list can show every field
with a value worth checking (unicode, floats that are not short in binary,
large integers, nested attributes, custom strategies, repeated names).
"""

from __future__ import annotations

from ccroute.business_hours import BusinessHours, WhenClosed
from ccroute.commands import (
    Abandon,
    Accept,
    AddAgent,
    AddChannel,
    AddExclusion,
    AddQueue,
    AddQueues,
    CallbackUnansweredCall,
    Complete,
    EndWrapUp,
    Note,
    Reject,
    RemoveAgent,
    RemoveExclusion,
    RequestCallback,
    ScheduleCallback,
    SetCapacity,
    SetPresence,
    Submit,
    Tick,
    Transfer,
    UpdateAgent,
    UpdateContact,
    UpdateQueue,
)
from ccroute.events import (
    Abandoned,
    Accepted,
    AgentAdded,
    AgentRemoved,
    AgentUpdated,
    CallbackClosed,
    CallbackRequested,
    CallbackScheduled,
    CallbackUnanswered,
    Completed,
    ContactUpdated,
    CustomerEnriched,
    FlowAdvanced,
    FlowFinished,
    FlowStarted,
    HistoryRecorded,
    OfferDelivered,
    Offered,
    OfferReason,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    PreferenceExpired,
    PresenceChanged,
    Queued,
    QueueUpdated,
    RampUpEnded,
    Refused,
    Rejected,
    Rejoined,
    StepApplied,
    TimedOut,
    Transferred,
    WrapUpEnded,
)
from ccroute.model import (
    Admission,
    Agent,
    Channel,
    ChannelKind,
    Contact,
    Presence,
    QueueConfig,
    RoutingStep,
    Strategy,
)
from ccroute.storage import LogRecord

#: The clock at the first record: a Unix time, as the service's wall clock gives.
T0 = 1_700_000_000.0

#: The snapshot the golden log holds, after this record.
SNAPSHOT_SEQ = 12

SALES = QueueConfig(
    "sales",
    Strategy.MOST_SKILLED,
    service_level_threshold=30.0,
    service_level_target=0.85,
    steps=(
        RoutingStep(30.0, {"fr": None, "en": 3}, {"support"}),
        RoutingStep(120.5, {}, {"overflow", "vip"}),
    ),
    max_size=50,
    offer_timeout=20.0,
    wrap_up=7.5,
    rona_not_ready=False,
    blocking={"voice": {"chat", "email"}, "video": {"chat"}},
    ring=2,
    max_wait=600.0,
    overflow="support",
    overflow_keep_key=False,
    skip_if_no_agent=True,
    admission=Admission.ELIGIBLE,
    rejoin_window=300.0,
    priority_seconds=-15.0,
    calendar=BusinessHours(
        "Europe/Paris",
        weekly={
            "mon": ("08:00-12:30", "13:30-18:00"),
            "tue": ("08:00-18:00",),
            "sat": ("22:00-06:00",),
        },
        holidays={"2026-12-25", "2027-01-01"},
        special={"2026-12-24": ("08:00-12:00",), "2026-12-31": ()},
    ),
    when_closed=WhenClosed.HOLD,
    callback_retries=(300.0, 1800.5),
    dispositions=("sale", "no-sale", "callback-é"),
    disposition_required=True,
)
SUPPORT = QueueConfig(
    "support", "vip-first", offer_timeout=None, wrap_up=None, when_closed=WhenClosed.ACCEPT
)
VIP = QueueConfig("vip", Strategy.ROUND_ROBIN, admission=Admission.LOGGED_IN)

ANN = Agent(
    "ann",
    skills={"en": 8, "fr": 4, "billing": 10},
    queues=("sales", "support"),
    capacity={"voice": 1, "chat": 3, "email": 0},
    unit_budget=100,
    queue_delays={"support": 12.25},
)
BOB = Agent("bob", skills={"en": 5}, queues=("sales", "vip"))

C1 = Contact(
    "c-1",
    "voice",
    "sales",
    requirements={"en": 5, "billing": 2},
    priority_seconds=0.1,
    tier=2,
    customer_id="cust-Ünïcode-✓",
    attributes={
        "ivr_path": "1-3-2",
        "tags": ["new", "web", None],
        "score": 0.1,
        "visits": 2**53 + 1,
        "nested": {"ok": True, "list": [1, 2.5, {"deep": "é"}]},
        "quote": 'he said "hi"\n',
    },
    preferred_agent="ann",
    preferred_wait=15.0,
    excluded_agents={"zed", "bob"},
    max_wait=900.0,
)
C2 = Contact("c-2", "chat", "support", customer_id="cust-2")
C3 = Contact("c-3", "email", "vip")


def _reason(eligible: int, score: float | None, runner_up: float | None) -> OfferReason:
    return OfferReason("most-skilled", "contact", eligible, score, runner_up, 0, ())


RECORDS: tuple[LogRecord, ...] = (
    LogRecord(1, T0, AddChannel(Channel("whatsapp", ChannelKind.SEMI_SYNCHRONOUS, 2, 25, False))),
    LogRecord(2, T0, AddQueues((SALES, SUPPORT))),
    LogRecord(3, T0, AddQueue(VIP)),
    LogRecord(
        4,
        T0,
        AddAgent(ANN, Presence.AVAILABLE),
        (
            AgentAdded(T0, "ann"),
            PresenceChanged(T0, "ann", Presence.OFFLINE, Presence.AVAILABLE),
        ),
    ),
    LogRecord(5, T0, AddAgent(BOB), (AgentAdded(T0, "bob"),)),
    LogRecord(
        6,
        T0 + 1.5,
        SetPresence("bob", Presence.AVAILABLE, "login"),
        (PresenceChanged(T0 + 1.5, "bob", Presence.OFFLINE, Presence.AVAILABLE, "login"),),
    ),
    LogRecord(7, T0 + 1.5, SetCapacity("bob", "chat", 3)),
    LogRecord(8, T0 + 2.0, AddExclusion("cust-2", "bob")),
    LogRecord(
        9,
        T0 + 2.0,
        Note(),
        (
            FlowFinished(T0 + 2.0, "c-1", "ivr-main", "routed"),
            CustomerEnriched(
                T0 + 2.0,
                "c-1",
                "cust-Ünïcode-✓",
                True,
                False,
                {"tier": "gold", "since": 2019, "flags": ["vip"]},
            ),
        ),
    ),
    LogRecord(
        10,
        T0 + 2.0,
        Submit(C1),
        (
            Queued(T0 + 2.0, "c-1", "sales", "voice"),
            Offered(
                T0 + 2.0,
                "c-1",
                "ann",
                "sales",
                "voice",
                T0 + 22.0,
                OfferReason("most-skilled", "contact", 2, 13.0, 5.0, 0, ("blocked", "reserved")),
            ),
        ),
    ),
    LogRecord(
        11,
        T0 + 2.0,
        Note(),
        (OfferDelivered(T0 + 2.0, "c-1", "ann", True),),
    ),
    LogRecord(
        12,
        T0 + 3.25,
        Reject("c-1", "ann"),
        (
            Rejected(T0 + 3.25, "c-1", "ann"),
            Offered(T0 + 3.25, "c-1", "bob", "sales", "voice", None, None),
        ),
    ),
    LogRecord(
        13,
        T0 + 4.0,
        Accept("c-1", "bob"),
        (Accepted(T0 + 4.0, "c-1", "bob", "sales", "voice", 2.0),),
    ),
    LogRecord(
        14,
        T0 + 64.0,
        Complete("c-1", "no-sale"),
        (Completed(T0 + 64.0, "c-1", "bob", "sales", "voice", 60.0, "no-sale"),),
    ),
    LogRecord(
        15,
        T0 + 70.0,
        EndWrapUp("c-1", "callback-é"),
        (
            WrapUpEnded(T0 + 70.0, "c-1", "bob", "sales", "voice", 6.0, "callback-é"),
            RampUpEnded(T0 + 70.0, "bob", "accepted"),
        ),
    ),
    LogRecord(16, T0 + 70.0, Note(), (HistoryRecorded(T0 + 70.0, "c-1", "completed"),)),
    LogRecord(
        17,
        T0 + 71.0,
        Submit(C2),
        (
            Queued(T0 + 71.0, "c-2", "support", "chat"),
            Offered(T0 + 71.0, "c-2", "ann", "support", "chat", T0 + 101.0, _reason(1, None, None)),
        ),
    ),
    LogRecord(
        18,
        T0 + 101.0,
        Tick(),
        (
            OfferTimedOut(T0 + 101.0, "c-2", "ann"),
            PresenceChanged(T0 + 101.0, "ann", Presence.AVAILABLE, Presence.NOT_READY, "rona"),
            StepApplied(T0 + 101.0, "c-2", "support", 0, (("en", 3),), frozenset({"vip", "sales"})),
            PreferenceExpired(T0 + 101.0, "c-2", "ann", "preferred wait over"),
        ),
    ),
    LogRecord(
        19,
        T0 + 102.0,
        Transfer("c-2", queue="vip", requirements={"en": 2, "fr": 1}, agent="bob", keep_key=False),
        (
            Transferred(T0 + 102.0, "c-2", "support", "vip", None, "bob", False),
            Offered(T0 + 102.0, "c-2", "bob", "vip", "chat", T0 + 132.0, _reason(1, 0.5, None)),
        ),
    ),
    LogRecord(
        20,
        T0 + 103.0,
        SetPresence("bob", Presence.OFFLINE),
        (
            OfferRescinded(T0 + 103.0, "c-2", "bob", "agent logged off"),
            PresenceChanged(T0 + 103.0, "bob", Presence.AVAILABLE, Presence.OFFLINE),
        ),
    ),
    LogRecord(
        21,
        T0 + 110.0,
        RequestCallback("c-2", "callback"),
        (CallbackRequested(T0 + 110.0, "c-2", "callback"),),
    ),
    LogRecord(
        22,
        T0 + 111.0,
        Submit(C3),
        (Refused(T0 + 111.0, "c-3", "vip", "email", "no agent logged in"),),
    ),
    LogRecord(
        23,
        T0 + 700.0,
        Tick(),
        (
            Overflowed(T0 + 700.0, "c-2", "vip", "sales", 598.0, "max wait", True),
            TimedOut(T0 + 700.0, "c-9", "sales", "voice", 600.0, "max wait"),
        ),
    ),
    LogRecord(
        24,
        T0 + 701.0,
        Abandon("c-2"),
        (Abandoned(T0 + 701.0, "c-2", "sales", "callback", 1.0, None),),
    ),
    LogRecord(
        25,
        T0 + 702.0,
        Submit(Contact("c-4", "callback", "sales", customer_id="cust-2")),
        (
            Queued(T0 + 702.0, "c-4", "sales", "callback"),
            Rejoined(T0 + 702.0, "c-4", "c-2", "sales"),
        ),
    ),
    LogRecord(26, T0 + 703.0, RemoveExclusion("cust-2", "bob")),
    LogRecord(
        27,
        T0 + 704.0,
        RemoveAgent("bob"),
        (AgentRemoved(T0 + 704.0, "bob"),),
    ),
    LogRecord(
        28,
        T0 + 705.0,
        UpdateQueue(QueueConfig("vip", Strategy.LONGEST_IDLE, max_wait=120.0, overflow="sales")),
        (QueueUpdated(T0 + 705.0, "vip", ("strategy", "max_wait", "overflow")),),
    ),
    LogRecord(
        29,
        T0 + 706.0,
        UpdateAgent(Agent("ann", skills={"en": 9, "fr": 4}, queues=("sales", "support", "vip"))),
        (AgentUpdated(T0 + 706.0, "ann", ("skills", "queues", "capacity", "unit_budget")),),
    ),
    LogRecord(
        30,
        T0 + 707.0,
        UpdateContact(
            "c-4",
            priority_seconds=60.0,
            tier=1,
            requirements={"en": 3},
            attributes={"escalated": True, "note": "asked twice"},
        ),
        (
            ContactUpdated(
                T0 + 707.0, "c-4", ("requirements", "priority_seconds", "tier", "attributes")
            ),
        ),
    ),
    LogRecord(31, T0 + 708.0, UpdateContact("c-4", tier=0)),
    LogRecord(
        32,
        T0 + 709.0,
        Submit(Contact("c-5", "voice", "vip")),
        (Refused(T0 + 709.0, "c-5", "vip", "voice", "closed"),),
    ),
    LogRecord(
        33,
        T0 + 710.0,
        ScheduleCallback(Contact("c-6", "callback", "sales", customer_id="cust-6"), T0 + 3600.25),
        (CallbackScheduled(T0 + 710.0, "c-6", "sales", "callback", T0 + 3600.25, 1, "requested"),),
    ),
    LogRecord(
        34,
        T0 + 3600.25,
        Tick(),
        (
            Queued(T0 + 3600.25, "c-6", "sales", "callback"),
            Offered(T0 + 3600.25, "c-6", "ann", "sales", "callback", None, _reason(1, 9.0, None)),
        ),
    ),
    LogRecord(
        35,
        T0 + 3700.0,
        CallbackUnansweredCall("c-6"),
        (
            CallbackUnanswered(T0 + 3700.0, "c-6", "ann", "sales", "callback", 1),
            CallbackScheduled(T0 + 3700.0, "c-6", "sales", "callback", T0 + 4000.0, 2, "retry"),
        ),
    ),
    LogRecord(
        36,
        T0 + 3800.0,
        Abandon("c-6"),
        (CallbackClosed(T0 + 3800.0, "c-6", "sales", "callback", 1, "cancelled"),),
    ),
    LogRecord(
        37,
        T0 + 3900.0,
        Note(),
        (
            FlowStarted(
                T0 + 3900.0,
                "c-7",
                "inbound",
                Contact(
                    "c-7",
                    "voice",
                    "general",
                    customer_id="cust-7",
                    attributes={
                        "ivr": {
                            "flow": "inbound",
                            "answers": {},
                            "sensitive": [],
                            "intent": None,
                            "confidence": None,
                            "path": ["hours", "language"],
                            "fallback": "recovered",
                        }
                    },
                ),
            ),
        ),
    ),
    LogRecord(
        38,
        T0 + 3912.125,
        Note(),
        (
            FlowAdvanced(
                T0 + 3912.125,
                "c-7",
                "menu",
                Contact(
                    "c-7",
                    "voice",
                    "general",
                    priority_seconds=30.0,
                    customer_id="cust-7",
                    attributes={
                        "lang": "fr",
                        "ivr": {
                            "flow": "inbound",
                            "answers": {"account": "************1111"},
                            "sensitive": ["account"],
                            "intent": "billing",
                            "confidence": 0.75,
                            "path": ["hours", "language", "french", "account", "menu"],
                            "fallback": "recovered",
                        },
                    },
                ),
            ),
        ),
    ),
    LogRecord(
        39,
        T0 + 4200.5,
        Note(),
        (FlowFinished(T0 + 4200.5, "c-7", "inbound", "fallback"),),
    ),
)
