"""Benchmark: what webhooks cost the paths that emit them, and how fast one worker delivers.

- **emit**: ``tgcampaigns.webhooks.emit`` in a transaction of its own, with 0, 1 and 5
  subscriptions to the event: milliseconds and queries per emit, and with 1 subscription again
  without waking a worker (the outbox rows alone; the wake-up is django-q2's ``async_task``, with
  the ORM broker one more INSERT and commit). With none, an emit is one SELECT and nothing else.
- **deliver**: one process delivering N signed events, one after the other, to a local receiver
  (a threaded ``http.server`` answering 204 on 127.0.0.1, ``TGC_WEBHOOK_ALLOW_PRIVATE`` on):
  deliveries per second, with the claim, the signature, the request and the log row each.

    .venv/bin/python bench/webhooks.py [--emits 200] [--deliveries 200]    (add DATABASE_URL=postgres://…)
"""

from __future__ import annotations

import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import QueryCounter, now, throwaway_database  # noqa: I001  (sets Django up first)
from django.db import connection
from django.test.utils import override_settings


class Answer204(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def bench_emit(n: int) -> None:
    from tgcampaigns import webhooks
    from tgcampaigns.webhooks import outbox
    from tgcampaigns.webhooks.models import WebhookSubscription

    wake = outbox.enqueue
    for subscriptions, woken in ((0, True), (1, True), (5, True), (1, False)):
        outbox.enqueue = wake if woken else (lambda ids: None)
        WebhookSubscription.objects.all().delete()
        for i in range(subscriptions):
            sub = WebhookSubscription(name=f"s{i}", url="https://crm.example.org/", events=["reply.received"])
            sub.set_secret()
            sub.save()
        counter = QueryCounter()
        data = {"campaign": {"id": 1}, "result": {"id": 2, "recipient": "@bob"}, "reply": {"text": "hi"}}
        with connection.execute_wrapper(counter):
            start = now()
            for _ in range(n):
                webhooks.emit(webhooks.Event.REPLY_RECEIVED, data)
            took = now() - start
        print(
            f"emit, {subscriptions} subscription(s){'' if woken else ', outbox only'}: "
            f"{took / n * 1000:.2f} ms per emit, {counter.count / n:.1f} queries per emit"
        )
    outbox.enqueue = wake


def bench_deliver(n: int) -> None:
    from tgcampaigns import webhooks
    from tgcampaigns.webhooks import sending
    from tgcampaigns.webhooks.models import WebhookDelivery, WebhookSubscription

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer204)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    WebhookSubscription.objects.all().delete()
    sub = WebhookSubscription(
        name="bench", url=f"http://127.0.0.1:{server.server_port}/", events=["reply.received"]
    )
    sub.set_secret()
    sub.save()
    for i in range(n):
        webhooks.emit(webhooks.Event.REPLY_RECEIVED, {"reply": {"id": i, "text": "hi"}})
    ids = list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))
    with override_settings(TGC_WEBHOOK_ALLOW_PRIVATE=True):
        start = now()
        outcomes = [sending.deliver(pk) for pk in ids]
        took = now() - start
    server.shutdown()
    assert outcomes.count("delivered") == n, outcomes[:5]
    print(f"deliver, one process: {n / took:,.0f} deliveries/s ({took / n * 1000:.1f} ms each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emits", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args()
    with throwaway_database() as vendor:
        print(f"database: {vendor}")
        bench_emit(args.emits)
        bench_deliver(args.deliveries)


if __name__ == "__main__":
    main()
