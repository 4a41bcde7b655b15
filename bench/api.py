"""Benchmark: the REST API at scale — a page of results (and its filtered, deeper and exported
variants) of a campaign of 1,000,000 results, and an upsert of 10,000 recipients (new, then the
same people again as updates). Server time through Django's test client with a real API token,
median of a few requests. Targets (issue 21): a page ≤ 100 ms, an upsert of 10,000 ≤ 2 s.

    .venv/bin/python bench/api.py [--recipients 1000000] [--batch 10000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/api.py
"""

from __future__ import annotations

import argparse
import statistics

from common import now, throwaway_database
from results import sent_campaign


def timed(client, url: str, runs: int = 5, **params) -> float:
    """Median server time of GET ``url`` in milliseconds (body read in full)."""
    times = []
    for _ in range(runs):
        t0 = now()
        response = client.get(url, params)
        b"".join(response.streaming_content) if response.streaming else response.content
        times.append((now() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return statistics.median(times)


def deep_cursor(client, url: str, pages: int, **params) -> str:
    """The ``next`` link after following ``pages`` pages of 1000."""
    link = client.get(url, {**params, "limit": 1000}).json()["next"]
    for _ in range(pages - 1):
        following = client.get(link).json()["next"] if link else None
        link = following or link
    return (link or url).replace("limit=1000", "limit=100")  # then a page of the default size


def upsert(client, list_id: int, batch: int, first_name: str) -> tuple[float, dict]:
    entries = [{"username": f"@api_user_{i:07d}", "fields": {"first_name": first_name}} for i in range(batch)]
    t0 = now()
    response = client.post(f"/api/v1/lists/{list_id}/recipients/", {"recipients": entries}, format="json")
    took = now() - t0
    assert response.status_code == 200, response.content[:300]
    return took, response.json()


def baseline(user, campaign, vendor: str) -> None:
    """The admin's results changelist of the campaign in the same run (docs/performance.md has
    its figure on a quiet machine): the load factor to read the API's figures against."""
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    url = f"{reverse('admin:campaigns_messageresult_changelist')}?campaign__id__exact={campaign.pk}"
    print(
        f"api [{vendor}] baseline: admin results changelist, one campaign: {timed(client, url):.0f} ms",
        flush=True,
    )


def import_file(rows: int) -> float:
    """Seconds to import a CSV of ``rows`` usernames with a first name (the file import's reader
    is the upsert's): the upsert's baseline in the same run."""
    import io

    from campaigns.lists.importing import import_recipient_list
    from campaigns.models import RecipientList

    data = "username,first_name\n" + "".join(f"@file_user_{i:07d},File\n" for i in range(rows))
    target = RecipientList(name="file", consent_basis="opt_in")
    t0 = now()
    import_recipient_list(target, io.BytesIO(data.encode()))
    return now() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=10_000)
    args = p.parse_args()
    from django.contrib.auth.models import User
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from campaigns.models import RecipientList
    from tgcampaigns.apitokens.models import ApiToken

    setup_test_environment()
    with throwaway_database() as vendor:
        campaign, sessions = sent_campaign(args.recipients)
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.mint(user, 'bench')[1]}")
        results = "/api/v1/results/"
        pages = {
            "results, first page (100)": {},
            "results, one campaign": {"campaign": campaign.pk},
            "results, failed": {"campaign": campaign.pk, "status": "failed"},
            "results, one error code": {"campaign": campaign.pk, "error_code": "USER_IS_BLOCKED"},
            "results, one identity": {"identity": "@bench_user_0500000"},
            "results, page of 1000": {"campaign": campaign.pk, "limit": 1000},
        }
        for name, params in pages.items():
            print(f"api [{vendor}] {name}: {timed(client, results, **params):.0f} ms", flush=True)
        baseline(user, campaign, vendor)
        deep = deep_cursor(client, results, 20, campaign=campaign.pk)
        print(
            f"api [{vendor}] results, a page after 20,000 rows (cursor): {timed(client, deep):.0f} ms",
            flush=True,
        )
        target = RecipientList.objects.create(name="upserted", consent_basis="opt_in")
        took, report = upsert(client, target.pk, args.batch, "New")
        print(
            f"api [{vendor}] upsert of {args.batch} new: {took:.2f} s (created {report['created']})",
            flush=True,
        )
        took, report = upsert(client, target.pk, args.batch, "Again")
        print(
            f"api [{vendor}] upsert of {args.batch} known: {took:.2f} s (updated {report['updated']})",
            flush=True,
        )
        took = import_file(args.batch)
        print(f"api [{vendor}] baseline: import of a {args.batch}-row CSV file: {took:.2f} s", flush=True)


if __name__ == "__main__":
    main()
