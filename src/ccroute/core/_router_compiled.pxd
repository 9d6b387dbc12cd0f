# Declarations for the compiled build of router.py (Cython's pure-Python mode:
# setup.py compiles router.py with this file beside it into
# ccroute.core._router_compiled; interpreted, router.py runs as it is and
# this file is not read). The records' fields and the router's attributes
# become C struct members, and the hottest internal methods C calls with
# typed records. Nothing here may change behaviour: every name keeps the
# type it has in router.py, and the tests run both builds.

cdef class _ContactRec:
    cdef public object spec
    cdef public long handle
    cdef public object state, queue, channel, base, requirements, extra_queues, key
    cdef public double arrived_at, entered_at
    cdef public long sig, steps_applied
    cdef public object agent, target, rejected_by, tokens
    cdef public double accepted_at, completed_at
    cdef public bint live
    cdef public object also, timeout_at
    cdef public bint overdue
    cdef public object fled, due
    cdef public long attempts
    cdef public object disposition

cdef class _AgentRec:
    cdef public object spec
    cdef public long handle
    cdef public object capacity, presence, offered, in_service, wrap_up, rejected, reserved, load
    cdef public double idle_since
    cdef public long handled
    cdef public object tokens
    cdef public bint live
    cdef public object levels
    cdef public bint ramping
    cdef public object ramp_left

cdef class _QueueRec:
    cdef public object config
    cdef public long handle, strategy
    cdef public object custom, last_agent
    cdef public long waiting, present, logged_in, scheduled

cdef class Router:
    # attributes set outside __init__ (observer_failures, last_observer_error)
    # and by subclasses live in the instance dictionary
    cdef dict __dict__
    cdef object __weakref__
    cdef public object _admission, _agent_by_handle, _agent_handles, _agents, _blocking
    cdef public long _changes
    cdef public object _channel_ids, _channels, _clock, _contact_by_handle, _contact_handles
    cdef public object _contacts, _counts
    cdef public double _epoch
    cdef public object _estimator, _exclusions, _handle_times, _hours, _masking
    cdef public long _notified
    cdef public object _now
    cdef public object _observers
    cdef public bint _offer_reasons
    cdef public object _followed, _patience, _policy, _preferred, _premasked, _q, _queue_delays
    cdef public object _queue_waiting, _queues, _ramp_up, _ranks, _rejections, _rejoins
    cdef public object _requirement_dicts, _reservation, _rng, _seq, _signatures, _skills
    cdef public object _strategies, _timer_seq, _timers, _waits
    cdef public long submitted, completed, abandoned, strategy_failures, timed_out, unreached

    cpdef _move(self, _ContactRec rec, object action, object after=*)
    cpdef _enqueue(self, _ContactRec rec)
    cpdef _dequeue(self, _ContactRec rec)
    cpdef _leave(self, _ContactRec rec, object action, object after=*)
    cpdef _release(self, _AgentRec agent, object channel, double now)
    cpdef _route_contact(self, _ContactRec rec, double now, list events)
    cpdef _route_agent(self, _AgentRec agent, double now, list events)
    cpdef _finish(self, double now, list events)
    cpdef _notify(self, list batch)
