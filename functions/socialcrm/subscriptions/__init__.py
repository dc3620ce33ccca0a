"""Subscriptions socialcrm makes itself: YouTube channels followed over WebSub, renewed before their lease ends.

- :mod:`socialcrm.subscriptions.websub` decides: which channels to subscribe, renew or unsubscribe, and
  whether a hub's verification of intent confirms a request socialcrm made;
- :mod:`socialcrm.subscriptions.store` keeps each topic's pending request and lease (DynamoDB);
- :mod:`socialcrm.subscriptions.hub` asks the hub.

The scheduled ``websub`` function renews; the ``ingest`` function answers the hub's verification.
"""
