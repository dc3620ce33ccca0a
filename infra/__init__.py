"""The socialcrm CDK app: one construct per concern, composed by two stacks.

``stateful_stack`` holds what must outlive any redeploy (KMS key, tables, event bus, secret);
``stateless_stack`` holds what can be replaced at will (functions, queues, HTTP API, alarms).
Every resource is built from ``socialcrm.topology``, which the local stack uses too.
"""
