# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""The universal queue and skills matcher, compiled.

This is the compiled twin of :mod:`ccroute._queue_py`: the same internal
interface, the same results including every tie-break, and the same costs,
with the hot state in C++ containers instead of Python objects:

* waiting contacts of one requirement signature (and those reserved for one
  agent on one channel) sit in an indexed binary min-heap of plain structs,
  with each contact's position kept in its slot, so removal by handle is
  O(log n) and the head is O(1);
* the ready agents of a profile on a channel are kept, per ordering in use,
  in a ``std::set`` of plain key structs (strategy key, then agent id), which
  also answers round robin's "next id after" query;
* profiles, signatures and their compatibility lists are integer arrays, so
  a routing decision is a C loop that creates no Python object per
  comparison;
* as in the pure twin, a per-skill index of ready agents (built on first use)
  answers for signatures that many profiles can serve, which is where every
  agent has a different skill set.

Agent ids (Python strings) break ties. A key struct holds the first eight
bytes of the id's UTF-8 encoding, whose byte order is code-point order, and
compares the full strings with ``PyUnicode_Compare`` only when those agree.

Bounds checks are off: every index comes from a handle this object handed out
or checked (agents and contacts are looked up before use, channels are
checked against the channel count at the API boundary), and the differential
tests drive both twins through the same random operations under
``check()``. Every public method checks all its arguments before changing
anything, with the rules of :mod:`ccroute._twin_checks` (its hot paths in C,
calling those functions to refuse), so both twins refuse the same calls with
the same errors. Agent handles are mapped to dense slots and skill levels
are kept as sorted pairs, so no handle value, however large, makes the
structure grow.
"""

from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.pair cimport pair
from libcpp.set cimport set as cset
from libcpp.unordered_map cimport unordered_map
from libcpp.unordered_set cimport unordered_set
from libcpp.vector cimport vector
from cpython.ref cimport PyObject
from cython.operator cimport dereference as deref, preincrement as inc, predecrement as dec

cdef extern from *:
    """
    #include <Python.h>
    #include <cstdint>
    #include <set>
    #include <vector>

    /* One ready agent in one ordering: (k0, k1, agent id, handle). */
    struct AKey {
        double k0;
        double k1;
        uint64_t pre;    /* first 8 bytes of the id's UTF-8, big-endian */
        PyObject *id;    /* borrowed: the queue keeps the id alive */
        long long a;
        int slot;        /* where the agent is in the queue's agent array */
        bool operator<(const AKey &o) const {
            if (k0 != o.k0) return k0 < o.k0;
            if (k1 != o.k1) return k1 < o.k1;
            if (pre != o.pre) return pre < o.pre;
            if (id != o.id) {
                int r = PyUnicode_Compare(id, o.id);
                if (r != 0) return r < 0;
            }
            return a < o.a;
        }
        bool same(const AKey &o) const {
            return k0 == o.k0 && k1 == o.k1 && id == o.id && a == o.a;
        }
    };
    typedef std::set<AKey> AgentSet;

    /* One waiting contact in a heap: (-tier, time, sequence, handle). */
    struct HEntry {
        long long n;
        double t;
        long long s;
        long long c;
        int slot;
    };
    static inline bool hless(const HEntry &x, const HEntry &y) {
        if (x.n != y.n) return x.n < y.n;
        if (x.t != y.t) return x.t < y.t;
        if (x.s != y.s) return x.s < y.s;
        return x.c < y.c;
    }

    /* Where a queued contact is. */
    struct CSlot {
        int heap;
        int pos;
        int g;
        long long target;
        int ch;
    };

    struct AgentC {
        bool present;
        std::vector<int> cap;
        std::vector<int> load;
        std::vector<char> ready;      /* per channel: in the profile's ready sets */
        std::vector<int> targeted;    /* per channel: heap of reserved contacts or -1 */
        int ntargeted;
        long long budget;
        long long total;
        long long units;
        long long exclusive;
        bool available;
        bool logged_in;
        double idle_since;
        long long handled;
        long long total_cap;
        int profile;
        uint64_t pre;
        PyObject *id;
        long long handle;
        int slot;
        AKey keys[4];
    };
    """
    cppclass AgentSet:
        cppclass iterator:
            AKey& operator*()
            iterator operator++()
            iterator operator--()
            bint operator==(iterator)
            bint operator!=(iterator)
        AgentSet()
        iterator begin()
        iterator end()
        iterator upper_bound(const AKey&)
        pair[iterator, cbool] insert(const AKey&)
        size_t erase(const AKey&)
        size_t size()
        size_t count(const AKey&)
        bint empty()

    cppclass AKey:
        double k0
        double k1
        uint64_t pre
        PyObject *id
        long long a
        int slot
        bint same(const AKey&)
        bint operator<(const AKey&)

    struct HEntry:
        long long n
        double t
        long long s
        long long c
        int slot

    bint hless(const HEntry&, const HEntry&)

    struct CSlot:
        int heap
        int pos
        int g
        long long target
        int ch

    struct AgentC:
        bint present
        vector[int] cap
        vector[int] load
        vector[char] ready
        vector[int] targeted
        int ntargeted
        long long budget
        long long total
        long long units
        long long exclusive
        bint available
        bint logged_in
        double idle_since
        long long handled
        long long total_cap
        int profile
        uint64_t pre
        PyObject *id
        long long handle
        int slot
        AKey keys[4]

from . import _twin_checks as _check
from ._profile_index import add_profile, candidates

ctypedef AgentSet* SetPtr

cdef struct IxRef:
    int ch
    int skill
    int ix

__all__ = ["UniversalQueue"]

# Strategy codes, as in ccroute._codes (kept literal here so the C loops can
# switch on them without a module lookup).
cdef enum:
    NONE = -1
    LONGEST_IDLE = 0
    MOST_SKILLED = 1
    LEAST_OCCUPIED = 2
    ROUND_ROBIN = 3
    FEWEST_HANDLED = 4
    RANDOM = 5

# Orderings a profile's ready set may keep, by index: by id (always), then
# the three strategies that need their own order.
cdef enum:
    O_ID = 0
    O_IDLE = 1
    O_OCC = 2
    O_HANDLED = 3
    NORDERS = 4
    O_SCORE = 4      # the skill index's most-skilled order: (-level, id)
    NINDEX = 5

cdef long long MAXHANDLE = 9223372036854775807
# The largest agent or contact handle the interface accepts (_twin_checks.MAX_HANDLE).
cdef long long MAX_HANDLE = 4611686018427387903
cdef object MAX_HANDLE_OBJ = MAX_HANDLE
cdef object MAX_INDEX_OBJ = _check.MAX_INDEX
cdef object MAX_LEVEL_OBJ = _check.MAX_LEVEL


# The fast paths below take plain ints only: anything else (an int subclass
# too, whose comparisons could lie) goes through _twin_checks, which refuses
# it or returns the plain int it holds, and only that reaches a C type.

cdef inline long long _handle(object x, str kind) except -1:
    """An agent or contact handle (0..MAX_HANDLE), or refused as _twin_checks.handle does."""
    if type(x) is int and 0 <= x <= MAX_HANDLE_OBJ:
        return x
    return _check.handle(x, kind)


cdef inline long long _target(object x) except -2:
    """-1 or an agent handle, or refused as _twin_checks.target does."""
    if type(x) is int and -1 <= x <= MAX_HANDLE_OBJ:
        return x
    return _check.target(x)


cdef inline int _strategy(object x) except -1:
    """A built-in strategy code (0..RANDOM), or refused as _twin_checks.strategy does."""
    if type(x) is int and 0 <= x <= RANDOM:
        return x
    return _check.strategy(x)


cdef inline double _time(object x, str what) except? -1.0:
    """A finite time as a double, or refused as _twin_checks.time does."""
    cdef double d
    if type(x) is float:
        d = x
        if isfinite(d):
            return d
    return _check.time(x, what)


cdef object _fast_requirements(object requirements):
    """The sorted pairs _twin_checks.requirements gives for a plain list or tuple of
    (skill, level) int pairs in range, each skill once; None to check the slow way."""
    if type(requirements) is not list and type(requirements) is not tuple:
        return None
    for item in requirements:
        if type(item) is not tuple or len(item) != 2:
            return None
        s, level = item
        if type(s) is not int or type(level) is not int:
            return None
        if not (0 <= s <= MAX_INDEX_OBJ and 0 <= level <= MAX_LEVEL_OBJ):
            return None
    reqs = tuple(sorted(requirements))
    cdef Py_ssize_t i
    for i in range(1, len(reqs)):
        if reqs[i][0] == reqs[i - 1][0]:
            return None
    return reqs


cdef object _fast_queues(object queues):
    """The frozenset _twin_checks.queues gives for a plain list, tuple or set of
    queue handles in range; None to check the slow way."""
    if type(queues) is not list and type(queues) is not tuple and type(queues) is not frozenset:
        return None
    for q in queues:
        if type(q) is not int or not 0 <= q <= MAX_INDEX_OBJ:
            return None
    return frozenset(queues)


cdef inline object _handle_set(object x, str what):
    """Handles to skip, checked as _twin_checks.handle_set does (empty: None)."""
    if (type(x) is tuple or type(x) is frozenset or type(x) is set or type(x) is list) and not x:
        return None
    x = _check.handle_set(x, what)
    return x if x else None


cdef inline uint64_t _prefix(str text):
    """The first eight bytes of ``text`` in UTF-8, big-endian, zero-padded."""
    cdef bytes raw = text.encode("utf-8", "surrogatepass")
    cdef const unsigned char *p = raw
    cdef Py_ssize_t n = len(raw)
    cdef uint64_t out = 0
    cdef int i
    for i in range(8):
        out <<= 8
        if i < n:
            out |= p[i]
    return out


# The rules of ccroute._queue_protocol, transcribed: least occupied's share
# (which _key orders agents by) and the four scores offer reasons report.
# tests/test_queue_scores.py holds this twin's answers to those functions.

cdef inline double _occupied_share(
    long long units, long long budget, long long held, long long slots
) noexcept:
    """_queue_protocol.occupied_share: the share of an agent's capacity in use."""
    if budget >= 0:
        return (<double>units / <double>budget) if budget else 1.0
    return (<double>held / <double>slots) if slots else 1.0


cdef inline double _idle_score(double idle_since, double now) noexcept:
    """_queue_protocol.idle_score: seconds since the agent last became idle."""
    return now - idle_since


cdef inline double _occupancy_score(
    long long units, long long budget, long long held, long long slots
) noexcept:
    """_queue_protocol.occupancy_score: 1 - the share in use."""
    return 1.0 - _occupied_share(units, budget, held, slots)


cdef inline double _handled_score(long long handled) noexcept:
    """_queue_protocol.handled_score: minus the contacts handled (negated as an
    integer, so 0 handled is 0.0, not -0.0)."""
    return <double>(-handled)


cdef class UniversalQueue:
    """Every waiting contact in one structure, and the agents that can take them."""

    # channels
    cdef vector[long long] _cost
    cdef vector[char] _excl
    # agents, by slot (handle -> slot in _agent_slot; freed slots are reused)
    cdef vector[AgentC] _agents
    cdef unordered_map[long long, int] _agent_slot
    cdef vector[int] _free_agent_slots
    cdef Py_ssize_t _nagents
    cdef dict _ids                      # handle -> id string (keeps the ids alive)
    # profiles
    cdef list _profile_meta             # p -> (skills dict, queues frozenset, channels frozenset)
    cdef dict _profile_ids
    cdef list _members                  # p -> set of agent handles
    cdef list _prof_sigs                # p -> compatible signatures, in signature order
    cdef vector[vector[int]] _prof_channels
    cdef vector[int] _prof_logged_in
    cdef vector[vector[pair[int, int]]] _prof_levels   # [p] -> (skill, level), by skill
    # [p * _stride + ch] -> ready agents of profile p on channel ch. The same
    # figure as the size of the by-id set, kept in one flat array so that a
    # decision skipping profiles with nobody ready reads neighbouring memory.
    cdef vector[int] _ready_n
    cdef int _stride
    # The per-skill index (see best_agent): (channel, skill or -1) -> index
    # number; per index, one set per ordering (NULL until used); per profile,
    # the indexes it belongs to as (channel, skill, index number).
    cdef dict _index_ids
    cdef vector[vector[SetPtr]] _ix_sets
    cdef vector[vector[IxRef]] _prof_ix
    cdef vector[int] _sig_first_skill      # -1: no requirement
    cdef vector[char] _sig_indexable       # every level >= 1 (index answers are exact)
    cdef vector[int] _sig_nreqs
    cdef int _index_min_profiles
    cdef int _index_scan_limit
    cdef vector[vector[pair[int, int]]] _prof_active   # (signature, index in its profile list)
    cdef vector[vector[AgentSet*]] _prof_ready         # [p][ch * NORDERS + order]
    cdef dict _index
    # signatures
    cdef list _sig_meta                 # g -> (channel, requirements, queues)
    cdef dict _sig_ids
    cdef vector[int] _sig_channel
    cdef vector[int] _sig_heap
    cdef vector[vector[pair[int, int]]] _sig_profiles  # (profile, score), in profile order
    cdef vector[vector[int]] _sig_active_pos           # parallel: position in profile's active
    # contacts
    cdef vector[vector[HEntry]] _heaps
    cdef vector[int] _free_heaps
    cdef vector[CSlot] _slots
    cdef vector[int] _free_slots
    cdef unordered_map[long long, int] _contacts
    # best_contact's scratch when channels are blocked: the agent's ready
    # flags with the blocked channels cleared (read only within that call)
    cdef vector[char] _open

    def __cinit__(self, *args, **kwargs):
        self._ids = {}
        self._profile_meta = []
        self._profile_ids = {}
        self._members = []
        self._prof_sigs = []
        self._index = {}
        self._sig_meta = []
        self._sig_ids = {}
        self._nagents = 0
        self._index_ids = {}
        self._index_min_profiles = 256
        self._index_scan_limit = 64

    def __init__(self, *args, **kwargs):
        _check.no_arguments(args, kwargs)

    @property
    def index_min_profiles(self):
        """A signature compatible with more profiles than this is matched
        through the per-skill index rather than profile by profile (0..2**31-1)."""
        return self._index_min_profiles

    @index_min_profiles.setter
    def index_min_profiles(self, value):
        self._index_min_profiles = _check.tuning(value, "index_min_profiles")

    @property
    def index_scan_limit(self):
        """How many index entries a decision scans before falling back to the
        profile loop (0..2**31-1)."""
        return self._index_scan_limit

    @index_scan_limit.setter
    def index_scan_limit(self, value):
        self._index_scan_limit = _check.tuning(value, "index_scan_limit")

    def __dealloc__(self):
        cdef size_t p, i
        for p in range(self._prof_ready.size()):
            for i in range(self._prof_ready[p].size()):
                if self._prof_ready[p][i] != NULL:
                    del self._prof_ready[p][i]
        self._prof_ready.clear()
        for p in range(self._ix_sets.size()):
            for i in range(self._ix_sets[p].size()):
                if self._ix_sets[p][i] != NULL:
                    del self._ix_sets[p][i]

    # ----------------------------------------------------------------- channels

    def add_channel(self, ch, unit_cost, exclusive):
        """Declare channel ``ch`` (handles are dense: 0, 1, 2 …). Cost: O(agents)."""
        ch = _check.index(ch, "channel")
        if ch != <Py_ssize_t>self._cost.size():
            _check.fail("channel handle", f"{self._cost.size()} (handles are dense)", ch)
        unit_cost = _check.count(unit_cost, "unit cost")
        exclusive = _check.flag(exclusive, "exclusive")
        cdef int ch_c = ch
        cdef long long unit_cost_c = unit_cost
        cdef bint exclusive_c = exclusive
        self._cost.push_back(unit_cost_c)
        self._excl.push_back(exclusive_c)
        cdef size_t a, p, i
        for a in range(self._agents.size()):
            self._agents[a].cap.push_back(0)
            self._agents[a].load.push_back(0)
            self._agents[a].ready.push_back(0)
            self._agents[a].targeted.push_back(-1)
        for p in range(self._prof_ready.size()):
            for _ in range(NORDERS):
                self._prof_ready[p].push_back(NULL)
        cdef vector[int] wider
        cdef int old = self._stride
        if ch_c >= old:
            self._stride = max(4, 2 * old)
            wider.assign(self._prof_ready.size() * self._stride, 0)
            for p in range(self._prof_ready.size()):
                for i in range(old):
                    wider[p * self._stride + i] = self._ready_n[p * old + i]
            self._ready_n.swap(wider)

    # ------------------------------------------------------------------- agents

    def add_agent(self, a, agent_id, skills, queues, capacity, budget, now):
        """Add agent ``a`` (logged out, unavailable). Cost: O(1), or O(signatures) for a new profile.

        ``capacity`` lists one maximum per channel handle; ``budget`` is the
        shared unit budget or -1 for none.
        """
        cdef long long a_c = _handle(a, "agent")
        if self._agent_slot.count(a_c):
            _check.state(f"agent handle {a_c} is in use")
        agent_id = _check.agent_id(agent_id)
        levels = _check.skills(skills)
        qs = _check.queues(queues)
        cap = _check.capacity(capacity, self._cost.size())
        cdef long long budget_c = _check.budget(budget)
        cdef double now_c = _time(now, "now")
        cdef int slot
        if self._free_agent_slots.empty():
            slot = self._agents.size()
            self._agents.resize(slot + 1)
        else:
            slot = self._free_agent_slots.back()
            self._free_agent_slots.pop_back()
        self._agent_slot[a_c] = slot
        cdef AgentC *ag = &self._agents[slot]
        ag.handle = a_c
        ag.slot = slot
        cdef Py_ssize_t nch = self._cost.size()
        cdef Py_ssize_t i
        ag.present = True
        ag.cap.assign(nch, 0)
        ag.load.assign(nch, 0)
        ag.ready.assign(nch, 0)
        ag.targeted.assign(nch, -1)
        ag.ntargeted = 0
        ag.total_cap = 0
        for i in range(nch):
            ag.cap[i] = cap[i]
            ag.total_cap += cap[i]
        ag.budget = budget_c
        ag.total = 0
        ag.units = 0
        ag.exclusive = 0
        ag.available = False
        ag.logged_in = False
        ag.idle_since = now_c
        ag.handled = 0
        ag.profile = NONE
        ag.pre = _prefix(agent_id)
        ag.id = <PyObject*>agent_id
        self._ids[a_c] = agent_id
        self._nagents += 1
        self._join_profile(ag, levels, qs)

    def remove_agent(self, a):
        """Forget agent ``a``; it must hold no contacts. Cost: O(channels · log n)."""
        cdef AgentC *ag = self._agent(a)
        if ag.ntargeted:
            _check.state(f"agent {ag.handle} still has contacts reserved for it")
        if ag.total:
            _check.state(f"agent {ag.handle} still holds {ag.total} contact(s)")
        self._leave_profile(ag)
        ag.present = False
        ag.id = NULL
        self._agent_slot.erase(ag.handle)
        self._free_agent_slots.push_back(ag.slot)
        del self._ids[ag.handle]
        self._nagents -= 1

    def set_logged_in(self, a, logged_in):
        """Record whether agent ``a`` is logged in (available or not-ready). Cost: O(1)."""
        cdef AgentC *ag = self._agent(a)
        if not isinstance(logged_in, bool):
            _check.flag(logged_in, "logged_in")
        cdef bint logged_in_c = logged_in
        if ag.logged_in != logged_in_c:
            ag.logged_in = logged_in_c
            self._prof_logged_in[ag.profile] += 1 if logged_in_c else -1

    def set_available(self, a, available, now):
        """Make agent ``a`` available for offers or not. Becoming available restarts its idle time.

        Cost: O(channels · strategies · log n).
        """
        cdef AgentC *ag = self._agent(a)
        if not isinstance(available, bool):
            _check.flag(available, "available")
        cdef bint available_c = available
        cdef double now_c = _time(now, "now")
        if available_c and not ag.available:
            ag.idle_since = now_c
        ag.available = available_c
        self._refresh(ag)

    def set_capacity(self, a, ch, capacity):
        """Set agent ``a``'s maximum on channel ``ch``. Cost: O(log n), O(signatures) if the profile changes."""
        cdef AgentC *ag = self._agent(a)
        cdef int ch_c = self._channel(ch)
        cdef int capacity_c = _check.count(capacity, "capacity")
        cdef bint was_open = ag.cap[ch_c] > 0
        ag.total_cap += capacity_c - ag.cap[ch_c]
        ag.cap[ch_c] = capacity_c
        if was_open != (capacity_c > 0):
            # The set of channels is part of the profile: move the agent.
            skills, queues, _channels = self._profile_meta[ag.profile]
            self._leave_profile(ag)
            self._join_profile(ag, skills, queues)
        else:
            self._refresh(ag)

    def occupy(self, a, ch):
        """Agent ``a`` takes one more contact on ``ch`` (an offer reserves capacity). Cost: O(log n).

        Refused while the agent holds its capacity on ``ch``.
        """
        cdef AgentC *ag = self._agent(a)
        cdef int ch_c = self._channel(ch)
        if ag.load[ch_c] >= ag.cap[ch_c]:
            _check.state(f"agent {ag.handle} holds {ag.load[ch_c]} on channel {ch_c}, its capacity")
        ag.load[ch_c] += 1
        ag.total += 1
        ag.units += self._cost[ch_c]
        if self._excl[ch_c]:
            ag.exclusive += 1
        self._refresh(ag)

    def release(self, a, ch, now):
        """Agent ``a`` frees one contact's slot on ``ch``; its idle time restarts. Cost: O(log n).

        Refused while the agent holds nothing on ``ch``.
        """
        cdef AgentC *ag = self._agent(a)
        cdef int ch_c = self._channel(ch)
        cdef double now_c = _time(now, "now")
        if not ag.load[ch_c]:
            _check.state(f"agent {ag.handle} holds nothing on channel {ch_c}")
        ag.load[ch_c] -= 1
        ag.total -= 1
        ag.units -= self._cost[ch_c]
        if self._excl[ch_c]:
            ag.exclusive -= 1
        ag.idle_since = now_c
        self._refresh(ag)

    def count_handled(self, a, n=1):
        """Count ``n`` more contacts handled by agent ``a`` (for fewest-handled). Cost: O(log n).

        ``n`` is in 0..2**31-1, and an agent's count stays at most 2**53.
        """
        cdef AgentC *ag = self._agent(a)
        cdef long long n_c = _check.count(n, "n")
        if ag.handled + n_c > <long long>_check.MAX_HANDLED:
            _check.fail("handled count", f"at most {_check.MAX_HANDLED}", ag.handled + n_c)
        ag.handled += n_c
        self._refresh(ag)

    def has_spare(self, a, ch):
        """Whether agent ``a`` could take one more contact on ``ch`` now. Cost: O(1)."""
        cdef AgentC *ag = self._agent(a)
        cdef int ch_c = self._channel(ch)
        return self._spare(ag, ch_c)

    # ------------------------------------------------------------------ contacts

    def signature(self, ch, requirements, queues):
        """Intern a requirement signature.

        Cost: O(1) when known; when new, O(P) for the P profiles open on its
        channel, serving one of its queues and having its rarest required skill.
        """
        cdef int ch_c = self._channel(ch)
        reqs = _fast_requirements(requirements)
        if reqs is None:
            reqs = _check.requirements(requirements)
        qs = _fast_queues(queues)
        if qs is None:
            qs = _check.queues(queues)
        key = (ch_c, reqs, qs)
        g = self._sig_ids.get(key)
        if g is not None:
            return g
        g = len(self._sig_meta)
        self._sig_meta.append(key)
        self._sig_ids[key] = g
        self._sig_channel.push_back(ch_c)
        self._sig_heap.push_back(self._new_heap())
        self._sig_profiles.push_back(vector[pair[int, int]]())
        self._sig_active_pos.push_back(vector[int]())
        cdef int p, score
        cdef vector[pair[int, int]] need
        for s, level in reqs:
            need.push_back(pair[int, int](s, level))
        self._sig_first_skill.push_back(reqs[0][0] if reqs else NONE)
        self._sig_indexable.push_back(all(level >= 1 for _s, level in reqs))
        self._sig_nreqs.push_back(len(reqs))
        for p in candidates(self._index, ch_c, reqs, qs):
            score = self._score(p, need)
            if score >= 0:
                self._link(p, g, score)
                # a new signature has no contacts yet: nothing to activate
        return g

    def insert(self, c, key, g, target=NONE):
        """Queue contact ``c`` with static ``key`` under signature ``g``. Cost: O(log n).

        With a ``target`` agent, only that agent may take the contact (a
        preferred-agent wait or a transfer to an agent).
        """
        cdef long long c_c = _handle(c, "contact")
        if self._contacts.count(c_c):
            _check.state(f"contact {c_c} is already queued")
        cdef HEntry e
        e.c = c_c
        if not self._fast_key(key, &e):
            key = _check.key(key)
            e.n = key[0]
            e.t = key[1]
            e.s = key[2]
        cdef int g_c = self._sig(g)
        cdef long long target_c = _target(target)
        if target_c != NONE and not self._agent_slot.count(target_c):
            _check.unknown("agent handle", target_c)
        cdef int ch = self._sig_channel[g_c]
        cdef int h
        cdef AgentC *ag
        if target_c == NONE:
            h = self._sig_heap[g_c]
        else:
            ag = self._find(target_c)
            h = ag.targeted[ch]
            if h < 0:
                h = self._new_heap()
                ag.targeted[ch] = h
                ag.ntargeted += 1
        cdef int slot
        if self._free_slots.empty():
            slot = self._slots.size()
            self._slots.push_back(CSlot(-1, -1, -1, NONE, -1))
        else:
            slot = self._free_slots.back()
            self._free_slots.pop_back()
        self._slots[slot].heap = h
        self._slots[slot].g = g_c
        self._slots[slot].target = target_c
        self._slots[slot].ch = ch
        e.slot = slot
        self._contacts[c_c] = slot
        self._push(h, e)
        cdef size_t j
        cdef int p
        if target_c == NONE and self._heaps[h].size() == 1:
            # The group just became non-empty: the profiles that can serve it
            # start looking at it.
            for j in range(self._sig_profiles[g_c].size()):
                p = self._sig_profiles[g_c][j].first
                self._sig_active_pos[g_c][j] = self._prof_active[p].size()
                self._prof_active[p].push_back(pair[int, int](g_c, j))

    cdef bint _fast_key(self, object key, HEntry *e) except -1:
        """Fill ``e``'s key from a well-formed key tuple; False to check it the slow way."""
        if type(key) is not tuple or len(key) != 3:
            return False
        n, t, s = key
        if type(n) is not int or type(t) is not float or type(s) is not int:
            return False
        try:
            e.n = n
            e.s = s
        except OverflowError:
            return False
        e.t = t
        return isfinite(e.t)

    def remove(self, c):
        """Take contact ``c`` out of the queue. Cost: O(log n)."""
        cdef long long c_c = _handle(c, "contact")
        cdef unordered_map[long long, int].iterator it = self._contacts.find(c_c)
        if it == self._contacts.end():
            _check.unknown("contact handle", c_c)
        cdef int slot = deref(it).second
        self._contacts.erase(it)
        cdef CSlot s = self._slots[slot]
        self._free_slots.push_back(slot)
        self._remove_at(s.heap, s.pos)
        if not self._heaps[s.heap].empty():
            return
        cdef AgentC *ag
        cdef size_t j
        cdef int p, pos
        cdef pair[int, int] moved
        if s.target != NONE:
            ag = self._find(s.target)
            ag.targeted[s.ch] = -1
            ag.ntargeted -= 1
            self._free_heaps.push_back(s.heap)
        else:
            for j in range(self._sig_profiles[s.g].size()):
                p = self._sig_profiles[s.g][j].first
                pos = self._sig_active_pos[s.g][j]
                moved = self._prof_active[p].back()
                self._prof_active[p][pos] = moved
                self._sig_active_pos[moved.first][moved.second] = pos
                self._prof_active[p].pop_back()

    def reindex(self, c, g, target=NONE):
        """Move queued contact ``c`` to signature ``g`` and target, keeping its key. Cost: O(log n)."""
        cdef long long c_c = _handle(c, "contact")
        cdef unordered_map[long long, int].iterator it = self._contacts.find(c_c)
        if it == self._contacts.end():
            _check.unknown("contact handle", c_c)
        cdef int g_c = self._sig(g)
        cdef long long t = _target(target)
        if t != NONE and not self._agent_slot.count(t):
            _check.unknown("agent handle", t)
        cdef CSlot s = self._slots[deref(it).second]
        cdef HEntry e = self._heaps[s.heap][s.pos]
        self.remove(c_c)
        self.insert(c_c, (e.n, e.t, e.s), g_c, t)

    def first(self, g):
        """The waiting contact of signature ``g`` with the smallest key (not reserved), or -1.

        Cost: O(1).
        """
        cdef int g_c = self._sig(g)
        cdef vector[HEntry] *heap = &self._heaps[self._sig_heap[g_c]]
        return deref(heap)[0].c if not heap.empty() else NONE

    def __len__(self):
        """Number of waiting contacts. Cost: O(1)."""
        return self._contacts.size()

    def __contains__(self, c):
        """Whether contact ``c`` is queued (``False`` for anything that is not a handle)."""
        handle = _check.integer(c, 0, MAX_HANDLE_OBJ)
        if handle is None:
            return False
        return self._contacts.count(<long long>handle) > 0

    # ------------------------------------------------------------------ matching

    def best_contact(self, a, barred=(), blocked=()):
        """The waiting contact with the smallest key that agent ``a`` may take now, or -1.

        ``barred`` lists contacts the agent may not be offered (it rejected
        them). ``blocked`` lists channel handles on which the agent counts as
        having no spare capacity for this one call, so no waiting contact on
        them is returned, not even one reserved for the agent: the router's
        channel-blocking and channel-reservation policies use it. Handles
        that name no channel are ignored. Cost: O(S + log n + |barred|) for S
        signatures compatible with the agent's profile that have waiting
        contacts, plus O(channels + |blocked|) when ``blocked`` is not empty.
        """
        cdef AgentC *ag = self._agent(a)
        barred = _handle_set(barred, "barred")
        blocked = _handle_set(blocked, "blocked")
        if not ag.available:
            return NONE
        cdef unordered_set[long long] bar
        cdef bint barring = False
        if barred is not None:
            barring = True
            for x in barred:
                if 0 <= x <= MAX_HANDLE_OBJ:
                    bar.insert(<long long>x)
        # Per channel, whether the agent may take one more contact there: its
        # ready flags, which _refresh keeps equal to _spare on every channel,
        # or a copy of them with the blocked channels closed.
        cdef const char *spare = ag.ready.data()
        if blocked is not None:
            spare = self._close_blocked(ag, blocked)
        cdef HEntry best
        cdef bint have = False
        cdef vector[pair[int, int]] *active = &self._prof_active[ag.profile]
        cdef size_t i
        cdef int g, h, idx, ch
        for i in range(active.size()):
            g = deref(active)[i].first
            if not spare[self._sig_channel[g]]:
                continue
            h = self._sig_heap[g]
            if have and not hless(self._heaps[h][0], best):
                continue
            idx = 0
            if barring:
                idx = self._first_unbarred(h, bar)
                if idx < 0:
                    continue
            if not have or hless(self._heaps[h][idx], best):
                best = self._heaps[h][idx]
                have = True
        if ag.ntargeted:
            for ch in range(<int>ag.targeted.size()):
                h = ag.targeted[ch]
                if h >= 0 and spare[ch]:
                    idx = self._first_unbarred(h, bar) if barring else 0
                    if idx >= 0 and (not have or hless(self._heaps[h][idx], best)):
                        best = self._heaps[h][idx]
                        have = True
        return best.c if have else NONE

    cdef const char *_close_blocked(self, AgentC *ag, blocked) except NULL:
        """Agent ``ag``'s ready flags, copied, with the channels in ``blocked`` cleared."""
        cdef Py_ssize_t nch = ag.ready.size(), i
        self._open.resize(nch + 1)  # never empty, so data() is never NULL
        for i in range(nch):
            self._open[i] = ag.ready[i]
        for x in blocked:
            if 0 <= x < nch:
                self._open[<Py_ssize_t>x] = 0
        return self._open.data()

    def best_agent(self, g, strategy, target=NONE, rr_after=None, barred=()):
        """The agent a contact of signature ``g`` goes to under ``strategy``, or -1.

        ``target`` restricts the choice to one agent; ``rr_after`` is the id of
        the agent the queue offered to last (round robin); ``barred`` lists
        agents who rejected the contact. Ties break by agent id. Cost:
        O(P · log n + |barred|) for P profiles compatible with the signature;
        when P exceeds ``index_min_profiles``, the per-skill index answers in
        O(scan · log P) instead, falling back to the profile loop after
        ``index_scan_limit`` entries. :data:`RANDOM` is not served here (see
        :meth:`eligible_agents`).
        """
        cdef int g_c = self._sig(g)
        cdef int strategy_c = _strategy(strategy)
        cdef long long target_c = _target(target)
        if rr_after is not None and type(rr_after) is not str:
            rr_after = _check.rr_after(rr_after)
        barred = _handle_set(barred, "barred")
        cdef int ch = self._sig_channel[g_c]
        cdef AgentC *ag
        if target_c != NONE:
            ag = self._find(target_c)
            if ag != NULL and self._spare(ag, ch) and (barred is None or target_c not in barred):
                return target_c
            return NONE
        if strategy_c == RANDOM:
            _check.random_refused()
        cdef int order
        if strategy_c == LONGEST_IDLE:
            order = O_IDLE
        elif strategy_c == LEAST_OCCUPIED:
            order = O_OCC
        elif strategy_c == FEWEST_HANDLED:
            order = O_HANDLED
        elif strategy_c == MOST_SKILLED or strategy_c == ROUND_ROBIN:
            order = O_ID
        else:
            raise ValueError(f"unknown strategy code {strategy_c}")
        cdef unordered_set[long long] bar
        cdef bint barring = False
        if barred is not None:
            barring = True
            for x in barred:
                if 0 <= x <= MAX_HANDLE_OBJ:
                    bar.insert(<long long>x)
        cdef long long hit
        if (
            <int>self._sig_profiles[g_c].size() > self._index_min_profiles
            and strategy_c != ROUND_ROBIN
            and (strategy_c != MOST_SKILLED or self._sig_nreqs[g_c] <= 1)
            and self._sig_indexable[g_c]
        ):
            hit = self._best_from_index(
                g_c, O_SCORE if strategy_c == MOST_SKILLED else order, bar, barring
            )
            if hit != -2:
                return hit
        cdef AKey probe
        if strategy_c == ROUND_ROBIN and rr_after is not None:
            probe.k0 = 0
            probe.k1 = 0
            probe.pre = _prefix(rr_after)
            probe.id = <PyObject*>rr_after
            probe.a = MAXHANDLE
        cdef vector[pair[int, int]] *profiles = &self._sig_profiles[g_c]
        cdef size_t i
        cdef int p
        cdef AgentSet *by_id
        cdef AgentSet *ready
        cdef AgentSet.iterator it, stop
        cdef double lead, best_lead = 0
        cdef AKey best
        cdef bint have = False, found
        for i in range(profiles.size()):
            p = deref(profiles)[i].first
            if not self._ready_n[p * self._stride + ch]:
                continue
            by_id = self._prof_ready[p][ch * NORDERS + O_ID]
            found = False
            if strategy_c == ROUND_ROBIN:
                if rr_after is None:
                    it = self._first_unbarred_agent(by_id, by_id.begin(), by_id.end(), bar, barring)
                    found = it != by_id.end()
                    lead = 1
                else:
                    stop = by_id.upper_bound(probe)
                    it = self._first_unbarred_agent(by_id, stop, by_id.end(), bar, barring)
                    lead = 0
                    found = it != by_id.end()
                    if not found:
                        it = self._first_unbarred_agent(by_id, by_id.begin(), stop, bar, barring)
                        found = it != stop
                        lead = 1
            else:
                if order == O_ID:
                    ready = by_id
                    lead = -deref(profiles)[i].second
                else:
                    ready = self._prof_ready[p][ch * NORDERS + order]
                    if ready == NULL:
                        ready = self._build_order(p, ch, order)
                    lead = 0
                it = self._first_unbarred_agent(ready, ready.begin(), ready.end(), bar, barring)
                found = it != ready.end()
            if found and (
                not have
                or lead < best_lead
                or (lead == best_lead and deref(it) < best)
            ):
                best = deref(it)
                best_lead = lead
                have = True
        return best.a if have else NONE

    def eligible_agents(self, g, target=NONE, barred=()):
        """Every agent that may take a contact of signature ``g`` now, in agent-id order.

        Cost: O(E log E) for E eligible agents (used by the random strategy).
        """
        cdef int g_c = self._sig(g)
        cdef long long target_c = _target(target)
        barred = _handle_set(barred, "barred")
        if barred is None:
            barred = ()
        cdef int ch = self._sig_channel[g_c]
        cdef AgentC *ag
        if target_c != NONE:
            ag = self._find(target_c)
            if ag != NULL and self._spare(ag, ch) and target_c not in barred:
                return [target_c]
            return []
        found = []
        cdef size_t i
        cdef AgentSet *by_id
        cdef AgentSet.iterator it
        for i in range(self._sig_profiles[g_c].size()):
            by_id = self._prof_ready[self._sig_profiles[g_c][i].first][ch * NORDERS + O_ID]
            it = by_id.begin()
            while it != by_id.end():
                if deref(it).a not in barred:
                    found.append((<object>deref(it).id, deref(it).a))
                inc(it)
        found.sort()
        return [a for _id, a in found]

    def offer_figures(self, g, strategy, winner, now, target=NONE, barred=()):
        """An offer reason's figures: ``(eligible, score, runner_up)``.

        ``eligible`` is how many agents :meth:`eligible_agents` would list for
        the same ``g``, ``target`` and ``barred``; ``score`` is ``winner``'s
        score under ``strategy`` at time ``now`` (``None`` when the winner is
        not among them) and ``runner_up`` the best score of the others
        (``None`` when there are none), by the score functions of
        ``ccroute._queue_protocol`` as transcribed above. Round robin and
        random have no score: ``None`` for both. One C pass over the ready
        agents of the compatible profiles, creating no Python object per
        agent. Cost: O(P + E + |barred|) for P compatible profiles and E
        eligible agents.
        """
        cdef int g_c = self._sig(g)
        cdef int strategy_c = _strategy(strategy)
        cdef long long winner_c = _target(winner)
        cdef double now_c = _time(now, "now")
        cdef long long target_c = _target(target)
        barred = _handle_set(barred, "barred")
        cdef int ch = self._sig_channel[g_c]
        cdef bint scored = strategy_c != ROUND_ROBIN and strategy_c != RANDOM
        cdef long long count = 0
        cdef double score, mine = 0, best = 0
        cdef bint have_mine = False, have_best = False
        cdef AgentC *ag
        if target_c != NONE:
            ag = self._find(target_c)
            if ag == NULL or not self._spare(ag, ch) or (barred is not None and target_c in barred):
                return 0, None, None
            if not scored:
                return 1, None, None
            # A reserved contact's target need not have the skills: its most-
            # skilled score is summed here rather than read off a profile link.
            score = self._agent_score(ag, strategy_c, self._skill_sum(ag.profile, g_c), now_c)
            if target_c == winner_c:
                return 1, score, None
            return 1, None, score
        cdef unordered_set[long long] bar
        cdef bint barring = False
        if barred is not None:
            barring = True
            for x in barred:
                if 0 <= x <= MAX_HANDLE_OBJ:
                    bar.insert(<long long>x)
        cdef vector[pair[int, int]] *profiles = &self._sig_profiles[g_c]
        cdef size_t i
        cdef int p
        cdef double skill
        cdef AgentSet *by_id
        cdef AgentSet.iterator it
        for i in range(profiles.size()):
            p = deref(profiles)[i].first
            if not self._ready_n[p * self._stride + ch]:
                continue
            # A compatible profile's link score is its most-skilled score.
            skill = <double>deref(profiles)[i].second
            by_id = self._prof_ready[p][ch * NORDERS + O_ID]
            it = by_id.begin()
            while it != by_id.end():
                if not barring or not bar.count(deref(it).a):
                    count += 1
                    if scored:
                        score = self._agent_score(
                            &self._agents[deref(it).slot], strategy_c, skill, now_c
                        )
                        if deref(it).a == winner_c:
                            mine = score
                            have_mine = True
                        elif not have_best or score > best:
                            best = score
                            have_best = True
                inc(it)
        return count, (mine if have_mine else None), (best if have_best else None)

    cdef inline double _agent_score(
        self, AgentC *ag, int strategy, double skill, double now
    ) noexcept:
        """Agent ``ag``'s score under a scored strategy; ``skill`` is its most-skilled score."""
        if strategy == LONGEST_IDLE:
            return _idle_score(ag.idle_since, now)
        if strategy == MOST_SKILLED:
            return skill
        if strategy == LEAST_OCCUPIED:
            return _occupancy_score(ag.units, ag.budget, ag.total, ag.total_cap)
        return _handled_score(ag.handled)

    cdef double _skill_sum(self, int p, int g) except? -1.0:
        """_queue_protocol.skill_score for profile ``p`` and signature ``g``'s requirements."""
        cdef long long total = 0
        for s, _level in self._sig_meta[g][1]:
            total += self._level(p, s)
        return <double>total

    def any_logged_in(self, g, exclude=()):
        """Whether some logged-in agent not in ``exclude`` could ever take signature ``g``.

        Ignores current load and readiness. Cost: O(P + |exclude|).
        """
        cdef int g_c = self._sig(g)
        exclude = _handle_set(exclude, "exclude")
        if exclude is None:
            exclude = ()
        cdef long long logged = 0
        cdef size_t i
        for i in range(self._sig_profiles[g_c].size()):
            logged += self._prof_logged_in[self._sig_profiles[g_c][i].first]
        if logged == 0:
            return False
        compatible = {self._sig_profiles[g_c][i].first for i in range(self._sig_profiles[g_c].size())}
        cdef AgentC *ag
        for a in exclude:
            if 0 <= a <= MAX_HANDLE_OBJ:
                ag = self._find(a)
                if ag != NULL and ag.logged_in and ag.profile in compatible:
                    logged -= 1
        return logged > 0

    # ------------------------------------------------------------------ internals

    cdef inline AgentC *_find(self, long long a) noexcept:
        """Agent ``a``, or NULL when no agent has that handle."""
        cdef unordered_map[long long, int].iterator it = self._agent_slot.find(a)
        if it == self._agent_slot.end():
            return NULL
        return &self._agents[deref(it).second]

    cdef inline AgentC *_agent(self, object a) except NULL:
        cdef long long a_c = _handle(a, "agent")
        cdef AgentC *ag = self._find(a_c)
        if ag == NULL:
            _check.unknown("agent handle", a_c)
        return ag

    cdef inline int _channel(self, object ch) except -1:
        if type(ch) is int and 0 <= ch < <Py_ssize_t>self._cost.size():
            return ch
        return _check.known_index(ch, "channel", self._cost.size())

    cdef inline int _sig(self, object g) except -1:
        if type(g) is int and 0 <= g < <Py_ssize_t>self._sig_channel.size():
            return g
        return _check.known_index(g, "signature", self._sig_channel.size())

    cdef inline int _level(self, int p, int s) noexcept:
        """Profile ``p``'s level of skill ``s`` (0: it does not have the skill)."""
        cdef vector[pair[int, int]] *levels = &self._prof_levels[p]
        cdef size_t lo = 0, hi = levels.size(), mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if deref(levels)[mid].first < s:
                lo = mid + 1
            else:
                hi = mid
        if lo < levels.size() and deref(levels)[lo].first == s:
            return deref(levels)[lo].second
        return 0

    cdef inline bint _spare(self, AgentC *ag, int ch) noexcept:
        if not ag.available or ag.load[ch] >= ag.cap[ch] or ag.exclusive:
            return False
        if self._excl[ch] and ag.total:
            return False
        return ag.budget < 0 or ag.units + self._cost[ch] <= ag.budget

    cdef int _new_heap(self):
        cdef int h
        if self._free_heaps.empty():
            h = self._heaps.size()
            self._heaps.push_back(vector[HEntry]())
        else:
            h = self._free_heaps.back()
            self._free_heaps.pop_back()
        return h

    cdef void _push(self, int h, HEntry e) noexcept:
        cdef vector[HEntry] *heap = &self._heaps[h]
        heap.push_back(e)
        self._sift_up(heap, heap.size() - 1)

    cdef void _sift_up(self, vector[HEntry] *heap, size_t pos) noexcept:
        cdef HEntry e = deref(heap)[pos]
        cdef size_t parent
        while pos > 0:
            parent = (pos - 1) >> 1
            if not hless(e, deref(heap)[parent]):
                break
            deref(heap)[pos] = deref(heap)[parent]
            self._slots[deref(heap)[pos].slot].pos = pos
            pos = parent
        deref(heap)[pos] = e
        self._slots[e.slot].pos = pos

    cdef void _sift_down(self, vector[HEntry] *heap, size_t pos) noexcept:
        cdef size_t n = heap.size()
        cdef HEntry e = deref(heap)[pos]
        cdef size_t child
        while True:
            child = 2 * pos + 1
            if child >= n:
                break
            if child + 1 < n and hless(deref(heap)[child + 1], deref(heap)[child]):
                child += 1
            if not hless(deref(heap)[child], e):
                break
            deref(heap)[pos] = deref(heap)[child]
            self._slots[deref(heap)[pos].slot].pos = pos
            pos = child
        deref(heap)[pos] = e
        self._slots[e.slot].pos = pos

    cdef void _remove_at(self, int h, size_t pos) noexcept:
        cdef vector[HEntry] *heap = &self._heaps[h]
        cdef HEntry last = heap.back()
        heap.pop_back()
        if pos >= heap.size():
            return
        deref(heap)[pos] = last
        self._slots[last.slot].pos = pos
        if pos > 0 and hless(last, deref(heap)[(pos - 1) >> 1]):
            self._sift_up(heap, pos)
        else:
            self._sift_down(heap, pos)

    cdef int _first_unbarred(self, int h, unordered_set[long long] &bar):
        """Position of the smallest entry of heap ``h`` not in ``bar``, or -1.

        A best-first walk of the heap: it visits at most the barred entries
        that are smaller than the answer, and their children.
        """
        cdef vector[HEntry] *heap = &self._heaps[h]
        cdef size_t n = heap.size()
        if n == 0:
            return -1
        if not bar.count(deref(heap)[0].c):
            return 0
        # frontier of positions, kept as a small binary heap by entry order
        cdef vector[size_t] frontier
        frontier.push_back(0)
        cdef size_t pos, child, k, j, best_k
        while not frontier.empty():
            best_k = 0
            for k in range(1, frontier.size()):
                if hless(deref(heap)[frontier[k]], deref(heap)[frontier[best_k]]):
                    best_k = k
            pos = frontier[best_k]
            frontier[best_k] = frontier.back()
            frontier.pop_back()
            if not bar.count(deref(heap)[pos].c):
                return <int>pos
            for j in range(1, 3):
                child = 2 * pos + j
                if child < n:
                    frontier.push_back(child)
        return -1

    cdef AgentSet.iterator _first_unbarred_agent(
        self,
        AgentSet *agents,
        AgentSet.iterator it,
        AgentSet.iterator stop,
        unordered_set[long long] &bar,
        bint barring,
    ):
        if not barring:
            return it
        while it != stop:
            if not bar.count(deref(it).a):
                return it
            inc(it)
        return it

    cdef inline AKey _key(self, AgentC *ag, int order) noexcept:
        cdef AKey k
        k.pre = ag.pre
        k.id = ag.id
        k.a = ag.handle
        k.slot = ag.slot
        k.k0 = 0
        k.k1 = 0
        if order == O_IDLE:
            k.k0 = 1 if ag.total > 0 else 0
            k.k1 = ag.idle_since
        elif order == O_OCC:
            # The one least-occupied rule (_queue_protocol.occupied_share).
            k.k0 = _occupied_share(ag.units, ag.budget, ag.total, ag.total_cap)
        elif order == O_HANDLED:
            k.k0 = <double>ag.handled
        return k

    cdef AgentSet *_build_order(self, int p, int ch, int order):
        # Orderings are built the first time a strategy asks for them, so the
        # cost of keeping them sorted is paid only for strategies in use.
        cdef AgentSet *built = new AgentSet()
        cdef AgentSet *by_id = self._prof_ready[p][ch * NORDERS + O_ID]
        cdef AgentSet.iterator it = by_id.begin()
        cdef AgentC *ag
        while it != by_id.end():
            ag = &self._agents[deref(it).slot]
            ag.keys[order] = self._key(ag, order)
            built.insert(ag.keys[order])
            inc(it)
        self._prof_ready[p][ch * NORDERS + order] = built
        return built

    cdef inline void _move(
        self, AgentSet *items, AgentC *ag, int order, bint was, bint now,
        AKey *fresh, bint *computed,
    ):
        """Bring one ordered set up to date for an agent, computing its new key once per call."""
        if not computed[order]:
            fresh[order] = self._key(ag, order)
            computed[order] = True
        if was and now and ag.keys[order].same(fresh[order]):
            return
        if was:
            items.erase(ag.keys[order])
        if now:
            items.insert(fresh[order])

    cdef void _refresh(self, AgentC *ag):
        """Bring the agent's entries in its profile's ready sets up to date."""
        cdef vector[int] *channels = &self._prof_channels[ag.profile]
        cdef vector[AgentSet*] *sets = &self._prof_ready[ag.profile]
        cdef size_t i
        cdef int ch, order
        cdef bint was, now
        cdef AgentSet *items
        cdef AKey key_new
        cdef AKey fresh[NORDERS]
        cdef bint computed[NORDERS]
        cdef vector[IxRef] *refs
        cdef vector[SetPtr] *ix_sets
        cdef size_t j
        for order in range(NORDERS):
            computed[order] = False
        for i in range(channels.size()):
            ch = deref(channels)[i]
            was = ag.ready[ch]
            now = self._spare(ag, ch)
            if not was and not now:
                continue
            for order in range(NORDERS):
                items = deref(sets)[ch * NORDERS + order]
                if items == NULL:
                    continue
                self._move(items, ag, order, was, now, fresh, computed)
            refs = &self._prof_ix[ag.profile]
            for j in range(refs.size()):
                if deref(refs)[j].ch != ch:
                    continue
                ix_sets = &self._ix_sets[deref(refs)[j].ix]
                for order in range(O_IDLE, NINDEX):
                    items = deref(ix_sets)[order]
                    if items == NULL:
                        continue
                    if order == O_SCORE:
                        if was != now:
                            key_new = self._index_key(ag, deref(refs)[j].skill, order)
                            if was:
                                items.erase(key_new)
                            else:
                                items.insert(key_new)
                        continue
                    self._move(items, ag, order, was, now, fresh, computed)
            if was != now:
                self._ready_n[ag.profile * self._stride + ch] += 1 if now else -1
            ag.ready[ch] = now
        for order in range(NORDERS):
            if computed[order]:
                ag.keys[order] = fresh[order]

    cdef int _score(self, int p, vector[pair[int, int]] &need) noexcept:
        """Profile ``p``'s skill score for requirements ``need``, or -1 if it misses one."""
        cdef int score = 0, level
        cdef size_t i
        for i in range(need.size()):
            level = self._level(p, need[i].first)
            if level < need[i].second:
                return -1
            score += level
        return score

    cdef long long _best_from_index(
        self, int g, int order, unordered_set[long long] &bar, bint barring
    ) except -3:
        """best_agent through the per-skill index: the agent, -1 for none, -2 to fall back.

        Every agent that may take the signature has its first required skill
        (every agent when it requires none) and is ready on its channel, so
        that skill's index, read in the strategy's order, meets the winner
        first. Most-skilled is served here only for one required skill, whose
        level is then the whole score.
        """
        cdef int ch = self._sig_channel[g]
        cdef int s = self._sig_first_skill[g]
        key = (ch, s)
        ix = self._index_ids.get(key)
        if ix is None:
            ix = self._new_index(ch, s)
        cdef int i = ix
        cdef AgentSet *items = self._ix_sets[i][order]
        if items == NULL:
            items = self._build_index(i, ch, s, order)
        cdef vector[pair[int, int]] *profiles = &self._sig_profiles[g]
        cdef AgentSet.iterator it = items.begin()
        cdef int scanned = 0
        cdef long long a
        while it != items.end():
            if scanned == self._index_scan_limit:
                return -2
            scanned += 1
            a = deref(it).a
            if self._has_profile(profiles, self._agents[deref(it).slot].profile) and not (
                barring and bar.count(a)
            ):
                return a
            inc(it)
        return NONE

    cdef inline bint _has_profile(self, vector[pair[int, int]] *profiles, int p) noexcept:
        """Whether ``p`` is in a signature's profile list (kept in profile order)."""
        cdef size_t lo = 0, hi = profiles.size(), mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if deref(profiles)[mid].first < p:
                lo = mid + 1
            else:
                hi = mid
        return lo < profiles.size() and deref(profiles)[lo].first == p

    cdef int _new_index(self, int ch, int s) except -1:
        cdef int i = self._ix_sets.size()
        self._index_ids[(ch, s)] = i
        self._ix_sets.push_back(vector[SetPtr](NINDEX, <SetPtr>NULL))
        cdef IxRef ref
        ref.ch = ch
        ref.skill = s
        ref.ix = i
        cdef size_t p
        for p in range(self._prof_ix.size()):
            if self._in_index(p, ch, s):
                self._prof_ix[p].push_back(ref)
        return i

    cdef inline bint _in_index(self, int p, int ch, int s) noexcept:
        if ch >= <int>self._cost.size() or self._prof_ready[p][ch * NORDERS + O_ID] == NULL:
            return False
        return s == NONE or self._level(p, s) > 0

    cdef inline AKey _index_key(self, AgentC *ag, int s, int order) noexcept:
        cdef AKey k
        if order != O_SCORE:
            return self._key(ag, order)
        k.pre = ag.pre
        k.id = ag.id
        k.a = ag.handle
        k.slot = ag.slot
        k.k1 = 0
        k.k0 = 0
        if s != NONE:
            k.k0 = -self._level(ag.profile, s)
        return k

    cdef AgentSet *_build_index(self, int i, int ch, int s, int order):
        cdef AgentSet *built = new AgentSet()
        cdef size_t p
        cdef AKey key
        cdef AgentSet *by_id
        cdef AgentSet.iterator it
        cdef AgentC *ag
        for p in range(self._prof_ix.size()):
            if not self._in_index(p, ch, s):
                continue
            by_id = self._prof_ready[p][ch * NORDERS + O_ID]
            it = by_id.begin()
            while it != by_id.end():
                ag = &self._agents[deref(it).slot]
                key = self._index_key(ag, s, order)
                if order != O_SCORE:
                    ag.keys[order] = key
                built.insert(key)
                inc(it)
        self._ix_sets[i][order] = built
        return built

    cdef void _link(self, int p, int g, int score):
        """Record that profile ``p`` can serve signature ``g``."""
        self._prof_sigs[p].append(g)
        self._sig_profiles[g].push_back(pair[int, int](p, score))
        self._sig_active_pos[g].push_back(-1)
        cdef size_t j
        if not self._heaps[self._sig_heap[g]].empty():
            j = self._sig_profiles[g].size() - 1
            self._sig_active_pos[g][j] = self._prof_active[p].size()
            self._prof_active[p].push_back(pair[int, int](g, j))

    cdef void _join_profile(self, AgentC *ag, dict skills, frozenset queues) except *:
        channels = frozenset(ch for ch in range(<int>ag.cap.size()) if ag.cap[ch] > 0)
        key = (tuple(sorted(skills.items())), queues, channels)
        cdef int p, g, ch
        cdef Py_ssize_t i
        found = self._profile_ids.get(key)
        if found is None:
            p = len(self._profile_meta)
            self._profile_meta.append((skills, queues, channels))
            self._profile_ids[key] = p
            self._members.append(set())
            self._prof_sigs.append([])
            self._prof_channels.push_back(vector[int]())
            for ch in sorted(channels):
                self._prof_channels[p].push_back(ch)
            self._prof_logged_in.push_back(0)
            self._ready_n.resize(self._ready_n.size() + self._stride, 0)
            self._prof_levels.push_back(vector[pair[int, int]]())
            for s, level in sorted(skills.items()):
                self._prof_levels[p].push_back(pair[int, int](s, level))
            self._prof_active.push_back(vector[pair[int, int]]())
            self._prof_ready.push_back(vector[SetPtr](self._cost.size() * NORDERS, <SetPtr>NULL))
            for ch in channels:
                self._prof_ready[p][ch * NORDERS + O_ID] = new AgentSet()
            add_profile(self._index, p, channels, queues, skills)
            self._prof_ix.push_back(vector[IxRef]())
            for (ich, iskill), ix in self._index_ids.items():
                if self._in_index(p, ich, iskill):
                    self._prof_ix[p].push_back(IxRef(ich, iskill, ix))
            for g, (sch, reqs, qs) in enumerate(self._sig_meta):
                if (
                    sch in channels
                    and not queues.isdisjoint(qs)
                    and all(skills.get(s, 0) >= level for s, level in reqs)
                ):
                    self._link(p, g, sum(skills.get(s, 0) for s, _level in reqs))
        else:
            p = found
        self._members[p].add(ag.handle)
        if ag.logged_in:
            self._prof_logged_in[p] += 1
        ag.profile = p
        for ch in range(<int>ag.ready.size()):
            ag.ready[ch] = 0
        self._refresh(ag)

    cdef void _leave_profile(self, AgentC *ag) except *:
        cdef bint was_available = ag.available
        ag.available = False
        self._refresh(ag)
        ag.available = was_available
        self._members[ag.profile].discard(ag.handle)
        if ag.logged_in:
            self._prof_logged_in[ag.profile] -= 1
        ag.profile = NONE

    # ------------------------------------------------------------------ checking

    def iter_waiting(self):
        """Every waiting contact as ``(key, handle)``, in no particular order. Cost: O(n)."""
        cdef HEntry e
        cdef pair[long long, int] item
        out = []
        for item in self._contacts:
            e = self._heaps[self._slots[item.second].heap][self._slots[item.second].pos]
            out.append(((e.n, e.t, e.s), item.first))
        return iter(out)

    def check(self):
        """Assert every internal invariant (for tests). Cost: O(n log n)."""
        cdef size_t h, i, j
        cdef long long a
        cdef int p, g, ch, order, parent
        cdef AgentC *ag
        cdef AgentSet *items
        cdef HEntry e
        cdef CSlot s
        cdef pair[long long, int] item
        live_heaps = set()
        count = 0
        for g in range(<int>self._sig_heap.size()):
            live_heaps.add(self._sig_heap[g])
        for a in range(<long long>self._agents.size()):
            if self._agents[a].present:
                ag = &self._agents[a]
                n = 0
                for ch in range(<int>ag.targeted.size()):
                    if ag.targeted[ch] >= 0:
                        n += 1
                        live_heaps.add(ag.targeted[ch])
                        assert not self._heaps[ag.targeted[ch]].empty(), "empty reservation heap kept"
                assert n == ag.ntargeted, (a, n, ag.ntargeted)
        for h in live_heaps:
            count += self._heaps[h].size()
            for i in range(self._heaps[h].size()):
                e = self._heaps[h][i]
                assert self._slots[e.slot].heap == <int>h and self._slots[e.slot].pos == <int>i
                assert self._contacts.count(e.c) and self._contacts[e.c] == e.slot
                if i:
                    assert not hless(e, self._heaps[h][(i - 1) // 2]), ("heap order", h, i)
        assert count == <Py_ssize_t>self._contacts.size(), (count, self._contacts.size())
        for item in self._contacts:
            s = self._slots[item.second]
            if s.target == NONE:
                assert s.heap == self._sig_heap[s.g]
            else:
                assert self._find(s.target) != NULL
                assert s.heap == deref(self._find(s.target)).targeted[s.ch]
        assert len(self._ids) == self._nagents == <Py_ssize_t>self._agent_slot.size()
        for a in range(<long long>self._agents.size()):
            if not self._agents[a].present:
                continue
            ag = &self._agents[a]
            assert ag.slot == a and self._agent_slot.count(ag.handle), ("agent slot", a)
            assert self._agent_slot[ag.handle] == a, ("agent slot", a, ag.handle)
            p = ag.profile
            assert ag.handle in self._members[p]
            assert ag.total == sum(ag.load[ch] for ch in range(<int>ag.load.size()))
            assert ag.units == sum(
                ag.load[ch] * self._cost[ch] for ch in range(<int>ag.load.size())
            )
            assert ag.total_cap == sum(ag.cap[ch] for ch in range(<int>ag.cap.size()))
            # best_contact reads the ready flags as the spare-capacity test on
            # every channel, the profile's and the rest (targeted contacts)
            assert ag.ready.size() == self._cost.size(), (a, ag.ready.size())
            for ch in range(<int>ag.ready.size()):
                assert bool(ag.ready[ch]) == self._spare(ag, ch), ("ready flag", a, ch)
            for i in range(self._prof_channels[p].size()):
                ch = self._prof_channels[p][i]
                ready = self._spare(ag, ch)
                assert bool(ag.ready[ch]) == ready, (a, ch)
                for order in range(NORDERS):
                    items = self._prof_ready[p][ch * NORDERS + order]
                    if items != NULL:
                        assert (items.count(self._key(ag, order)) == 1) == ready, (a, ch, order)
        cdef AKey want
        for (ich, iskill), ix in self._index_ids.items():
            for order in range(O_IDLE, NINDEX):
                items = self._ix_sets[ix][order]
                if items == NULL:
                    continue
                n = 0
                for a in range(<long long>self._agents.size()):
                    ag = &self._agents[a]
                    if not ag.present or not self._in_index(ag.profile, ich, iskill):
                        continue
                    if ich < <int>ag.ready.size() and ag.ready[ich]:
                        want = self._index_key(ag, iskill, order)
                        assert items.count(want) == 1, ("skill index", ich, iskill, order, a)
                        n += 1
                assert <Py_ssize_t>items.size() == n, ("skill index size", ich, iskill, order)
        for p in range(len(self._profile_meta)):
            n = 0
            for a in self._members[p]:
                assert self._find(a) != NULL, ("member", p, a)
                n += deref(self._find(a)).logged_in
            assert self._prof_logged_in[p] == n, ("logged in", p)
            active = {self._prof_active[p][i].first for i in range(self._prof_active[p].size())}
            assert len(active) == self._prof_active[p].size(), ("duplicate active", p)
            expect = {g for g in self._prof_sigs[p] if not self._heaps[self._sig_heap[g]].empty()}
            assert active == expect, (p, active, expect)
            for i in range(self._prof_active[p].size()):
                g = self._prof_active[p][i].first
                j = self._prof_active[p][i].second
                assert self._sig_profiles[g][j].first == p
                assert self._sig_active_pos[g][j] == <int>i
            for ch in self._profile_meta[p][2]:
                sizes = {
                    self._prof_ready[p][ch * NORDERS + order].size()
                    for order in range(NORDERS)
                    if self._prof_ready[p][ch * NORDERS + order] != NULL
                }
                assert len(sizes) == 1, (p, ch, sizes)
                assert sizes == {self._ready_n[p * self._stride + ch]}, (p, ch, sizes)
