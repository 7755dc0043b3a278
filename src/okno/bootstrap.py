"""One map of which domain handles which event, which handler fires which timer and which
handler runs which kind of job.

Subscribers are ``handler(deps: SubscriberDeps, event)``; wiring refuses a topic missing from
the event catalogue (:mod:`okno.events`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from okno.automation.engine import run_automations, run_automations_many
from okno.automation.rules import EVENTS as AUTOMATION_EVENTS
from okno.bus.deps import Subscriber, SubscriberDeps
from okno.bus.inprocess import InProcessBus, subscriber_name
from okno.conversations.auto_close import AUTO_CLOSE_TIMER, on_auto_close_timer, plan_auto_close
from okno.conversations.lifecycle import SNOOZE_TIMER
from okno.conversations.snooze import on_snooze_timer
from okno.customers.matching import jobs as matcher_jobs
from okno.customers.matching.suggestions import on_customer_created, on_customers_created
from okno.customers.retention import SWEEP as RETENTION_SWEEP
from okno.customers.retention import run_sweep
from okno.jobs.worker import JobHandler
from okno.kit.timers import TimerHandler
from okno.reports import projection as reports
from okno.routing import escalation
from okno.routing import subscribers as queues
from okno.routing.hooks import route_new_conversation, route_new_conversations
from okno.routing.rules import EVENTS as RULE_EVENTS
from okno.sla import alerts
from okno.sla import subscribers as sla
from okno.sla.tracking import BREACH_TIMER, WARNING_TIMER
from okno.surveys import dispatch as survey_dispatch
from okno.surveys import replies as survey_replies
from okno.telephony.calls import follow_call_event, follow_call_events

SUBSCRIBERS: dict[str, list[Subscriber]] = {
    "conversation.opened": [route_new_conversation],
    "customer.created": [on_customer_created],  # file the profile for matching, queue merge suggestions
    # queues: a conversation that starts waiting is offered at once; a freed operator takes the next one
    "conversation.routed": [queues.offer_waiting_conversation],
    "conversation.escalated": [queues.offer_waiting_conversation],
    "conversation.assigned": [queues.offer_waiting_conversation, queues.free_previous_operator],
    "conversation.status_changed": [queues.offer_waiting_conversation, queues.free_operator_after_status_change],
    "operator.presence_changed": [queues.operator_became_available],
    "operator.routing_changed": [queues.operator_became_available],
    "team.changed": [queues.drain_team_queue, sla.recompute_after_team_change],
    "sla.breached": [escalation.escalate_on_breach],
    "sla.policy_changed": [sla.recompute_after_policy_change],
    "sla.calendar_changed": [sla.recompute_after_calendar_change],
}
for _topic in RULE_EVENTS:  # routing rules may run on these too (conversation.opened is above)
    if _topic != "conversation.opened":
        SUBSCRIBERS.setdefault(_topic, []).append(route_new_conversation)
for _topic in sla.CONVERSATION_TOPICS:  # SLA clocks follow every change to a conversation
    SUBSCRIBERS.setdefault(_topic, []).append(sla.track_conversation)
SUBSCRIBERS["conversation.status_changed"].append(plan_auto_close)
SUBSCRIBERS["conversation.status_changed"].append(survey_dispatch.plan_survey_on_resolve)  # resolved: its survey
for _topic in ("customer.merged", "customer.unmerged"):  # a survey follows its conversation to the merged person
    SUBSCRIBERS.setdefault(_topic, []).append(survey_dispatch.follow_customer_merges)
for _topic in ("message.received", "message.updated"):  # a call's facts changed: pop, assign, missed, callbacks
    SUBSCRIBERS.setdefault(_topic, []).append(follow_call_event)
for _topic in AUTOMATION_EVENTS:  # automation rules run last, on what routing and SLA made of the event
    SUBSCRIBERS.setdefault(_topic, []).append(run_automations)
for _topic in reports.TOPICS:  # analytics projections last: they copy the SLA verdicts the clocks just set
    SUBSCRIBERS.setdefault(_topic, []).append(reports.project_event)

# Subscribers that also take a relay batch's events in one call per round (``InProcessBus.deliver_many``:
# a customer's events in order, one transaction for many customers' events instead of one per event)
BATCH_FORMS: dict[Subscriber, Callable[..., Awaitable[None]]] = {
    reports.project_event: reports.project_events,
    route_new_conversation: route_new_conversations,
    sla.track_conversation: sla.track_conversations,
    queues.offer_waiting_conversation: queues.offer_waiting_conversations,
    queues.free_operator_after_status_change: queues.free_operators_after_status_change,
    survey_dispatch.plan_survey_on_resolve: survey_dispatch.plan_surveys_on_resolve,
    # filters: most batches need nothing of these; one that does is run event by event
    run_automations: run_automations_many,
    follow_call_event: follow_call_events,
    on_customer_created: on_customers_created,
}

# Batch forms that take the relay's whole batch in one call, after its rounds: sinks that no other
# subscriber reads and that read the others' rows as of when they run (relay lag changes nothing)
WHOLE_BATCH: frozenset[Subscriber] = frozenset({reports.project_event})

TIMER_HANDLERS: dict[str, TimerHandler] = {
    BREACH_TIMER: alerts.on_breach_timer,
    WARNING_TIMER: alerts.on_warning_timer,
    AUTO_CLOSE_TIMER: on_auto_close_timer,
    SNOOZE_TIMER: on_snooze_timer,
    survey_dispatch.SEND_TIMER: survey_dispatch.on_send_timer,
    survey_dispatch.DEADLINE_TIMER: survey_replies.on_deadline_timer,
}


JOB_HANDLERS: dict[str, JobHandler] = {
    matcher_jobs.ESTIMATE: matcher_jobs.run_estimate,
    matcher_jobs.REINDEX: matcher_jobs.run_reindex,
    RETENTION_SWEEP: run_sweep,  # once a day (customers.retention.RetentionPlanner queues it)
}

def wire_subscribers(bus: InProcessBus, deps: SubscriberDeps, subscribers: dict[str, list[Subscriber]] | None = None) -> None:
    for topic, handlers in (SUBSCRIBERS if subscribers is None else subscribers).items():
        for handler in handlers:
            batch = BATCH_FORMS.get(handler)
            bus.subscribe(
                topic, partial(handler, deps), name=subscriber_name(handler),
                batch=None if batch is None else partial(batch, deps), whole_batch=handler in WHOLE_BATCH,
            )
