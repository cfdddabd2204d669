"""The validating admission webhook (SPEC §7), one concept per module:

- `paths`: one path per kind, and the webhooks a ValidatingWebhookConfiguration lists;
- `review`: AdmissionReview v1 requests in, responses out;
- `rules`: what is refused, per kind, as pure functions of the new and old objects;
- `certificates`: the serving certificate, reloaded when its files change;
- `app`: the aiohttp application (size and time limits, metrics);
- `server`: `add_webhook(manager, port, cert_dir)`, serving it on the operator's manager.
"""
