"""Signed webhooks: the outbox, signatures, the delivery worker and its timed jobs.

- :mod:`.types`: the webhook event types and which chain actions produce them;
- :mod:`.outbox`: rows written inside the state change's transaction;
- :mod:`.signatures`: Standard Webhooks headers, ``v1`` (HMAC) and ``v1a`` (Ed25519);
- :mod:`.ssrf`, :mod:`.transport`: where a receiver may be, and the HTTP call;
- :mod:`.schedule`, :mod:`.worker`, :mod:`.jobs`: retries, delivery, timed events;
- :mod:`.endpoints`: the admin use cases (endpoints, keys, deliveries, resend).
"""
