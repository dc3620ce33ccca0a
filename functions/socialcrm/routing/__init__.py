"""Routing: rules as code → a case per interaction (teams, priority, SLA, tags, why), SLA clocks, spikes.

- ``rules``: the rules document (pydantic models, the JSON Schema in ``schemas/``, the loader that names
  the rule and field of any error);
- ``text``: normalisation and keyword matching in any script (Devanagari included), detectors;
- ``evaluator``: compiled rules → a ``Decision`` for one interaction;
- ``case``: the ``Case`` model and its events;
- ``service``: the route consumer's batch (idempotent on ``interaction_ref``), spikes included;
- ``spikes``: negative interactions counted per topic, platform and time bucket;
- ``sla``: the scheduler interface (EventBridge Scheduler, in-process timer) and what a firing does;
- ``workflow``: work-queue updates (assignee, status, first response);
- ``replay``: the dry run of a candidate rules document against stored interactions.
"""
