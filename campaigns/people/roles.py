"""The three staff roles as Django groups, and the permissions each holds.

README "Roles and permissions" shows what each role may do, page by page, and
``tests/test_permissions.py`` holds every row of that table. The groups are created by a data
migration and kept as :data:`ROLES` says at every ``migrate`` (so a permission a later release
adds reaches its group): make a new group for another mix rather than editing these.

- **Marketing**: recipient lists, segments, campaigns (compose, launch, control, clone, test
  send and its seed lists, follow-ups), their results and exports, persons' pages and tags
  (adding, removing). No sessions, suppressions, users or django-q2.
- **Reviewer**: reads campaigns, segments and results, exports them, reads persons' pages and the
  tags, reads the audit trail.
- **Operator**: Telegram sessions (log in, check, disable, re-activate, un-quarantine with a
  reason, release a lease), resolved peers, suppressions, erasing a person (finding them and
  opening their page first), the audit trail, and reads campaigns (not their results: personal
  data, but for the one person on the page they are about to erase).
"""

from __future__ import annotations

MARKETING = "Marketing"
REVIEWER = "Reviewer"
OPERATOR = "Operator"

# "app_label.codename" per group.
ROLES: dict[str, tuple[str, ...]] = {
    MARKETING: (
        "campaigns.view_recipientlist",
        "campaigns.add_recipientlist",
        "campaigns.change_recipientlist",
        "campaigns.delete_recipientlist",
        "campaigns.view_recipient",
        # Deleting a list deletes its recipients (README: Marketing deletes its lists).
        "campaigns.delete_recipient",
        "campaigns.view_campaign",
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "campaigns.delete_campaign",
        "campaigns.launch_campaign",
        "campaigns.control_campaign",
        "campaigns.send_test_campaign",
        "campaigns.view_seedlist",
        "campaigns.add_seedlist",
        "campaigns.change_seedlist",
        "campaigns.delete_seedlist",
        "campaigns.view_messageresult",
        "campaigns.view_deliveryattempt",
        "campaigns.export_messageresult",
        "campaigns.view_reply",
        # Tags: the tag list (rename, delete) and tagging rows (a list's recipients, a person's page).
        "campaigns.view_tag",
        "campaigns.change_tag",
        "campaigns.delete_tag",
        "campaigns.add_recipienttag",
        "campaigns.delete_recipienttag",
        "campaigns.view_segment",
        "campaigns.add_segment",
        "campaigns.change_segment",
        "campaigns.delete_segment",
    ),
    REVIEWER: (
        "campaigns.view_campaign",
        "campaigns.view_messageresult",
        "campaigns.view_deliveryattempt",
        "campaigns.export_messageresult",
        "campaigns.view_reply",
        "campaigns.view_tag",
        "campaigns.view_segment",
        "audit.view_auditevent",
    ),
    OPERATOR: (
        "sessions_app.view_telegramsession",
        "sessions_app.add_telegramsession",
        "sessions_app.change_telegramsession",
        "sessions_app.delete_telegramsession",
        "sessions_app.login_telegramsession",
        "sessions_app.operate_telegramsession",
        "sessions_app.release_lease_telegramsession",
        "sessions_app.unquarantine_telegramsession",
        "sessions_app.view_resolvedpeer",
        "campaigns.view_suppression",
        "campaigns.add_suppression",
        "campaigns.change_suppression",
        "campaigns.delete_suppression",
        "campaigns.erase_person",
        "audit.view_auditevent",
        "campaigns.view_campaign",
    ),
}


def install_roles(apps, *, create_missing_permissions: bool = False) -> None:
    """Create the groups of :data:`ROLES` and set exactly their permissions.

    ``apps``: the app registry (a migration's historical one, or ``django.apps.apps``). In a
    migration the permissions of a fresh database do not exist yet (Django creates them after
    ``migrate``): ``create_missing_permissions`` creates them first. A permission that still
    does not exist (its model is not installed) is skipped.
    """
    if create_missing_permissions:
        _create_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        pairs = [perm.split(".", 1) for perm in wanted]
        found = Permission.objects.none()
        for app_label, codename in pairs:
            found |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        group.permissions.set(found)


def _create_permissions(apps) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0)
