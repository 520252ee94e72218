#!/usr/bin/python
# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: humanitec_registry
short_description: Create, update or delete a container registry record of a Humanitec organization
version_added: 0.1.0
description:
  - Makes one registry record of a Humanitec organization match the task.
  - Reads the record, compares it with the options the task gives, and writes only what differs.
    Options left out keep the value the record has.
  - Credentials are compared with those the API holds without ever being shown.
author:
  - Humanitec Platform collection maintainers (@humanitec)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - humanitec.platform.connection
  - humanitec.platform.connection.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written. RV(ignore:changed) and RV(registry) are what a real run would give,
        except that a registry about to be created has no RV(registry.created_at) and
        RV(registry.created_by) yet.
  diff_mode:
    support: full
    details:
      - The diff shows the managed fields before and after; an absent record is V({}).
      - Passwords are never shown. When O(creds) are managed the diff shows a placeholder,
        which differs between the two sides when the password changes.
  idempotent:
    description: When run twice in a row with the same options, the second run reports no change.
    support: partial
    details:
      - With O(update_creds=always) the module reads the stored credentials from the API and
        sends O(creds) only when the username, the password or (when given) the expiry differ,
        so a rerun with the same password reports no change.
      - Registry types whose creds endpoint hands out derived, short-lived tokens (such as
        V(amazon_ecr) or V(google_gcr) on some installations) never match the stored secret,
        so every run would send the creds again. Use O(update_creds=on_create) for them.
      - When the token may not read the creds endpoint, the module sends O(creds) on every
        run and warns.
  platform:
    platforms: all
options:
  id:
    description:
      - Id of the registry, unique within the organization.
      - Lower-case letters, digits and dashes, starting and ending with a letter or digit,
        at least 3 characters (V(^[a-z0-9][a-z0-9-]+[a-z0-9]$)).
    type: str
    required: true
  state:
    description:
      - V(present) creates the registry or updates it to match; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  registry:
    description:
      - Registry name, a host or host/project, such as V(registry.example.com/team).
      - Required to create a registry.
    type: str
  type:
    description:
      - Authentication method of the registry.
      - Required to create a registry.
    type: str
    choices: [public, basic, google_gcr, amazon_ecr, secret_ref]
  enable_ci:
    description:
      - Whether the registry's secrets and credentials are exposed to CI agents.
      - When not set, an existing record keeps its value and a new one gets V(false).
    type: bool
  creds:
    description:
      - Credentials of the registry account.
      - For V(amazon_ecr) the access key id and secret; for V(google_gcr) V(_json_key) and
        the service account key as JSON.
      - When not set, the credentials are not managed.
    type: dict
    suboptions:
      username:
        description: Account login, access key id or token name.
        type: str
        required: true
      password:
        description: Account password or token secret. Never shown in results, diffs or logs.
        type: str
        required: true
      expires:
        description:
          - When the credentials expire, a UTC timestamp such as V(2027-01-31T00:00:00Z)
            (milliseconds allowed).
          - When not set, the expiry is not managed and keeps the value the API holds.
        type: str
  update_creds:
    description:
      - V(always) compares O(creds) with the stored credentials and sends them when they differ.
      - V(on_create) sends O(creds) only when the registry is created.
    type: str
    choices: [always, on_create]
    default: always
  secrets:
    description:
      - Kubernetes secrets that hold the pull credentials, by cluster id; V(*) stands for
        every cluster.
      - These are the names of secrets, not secret values.
      - When not set, the secrets are not managed.
    type: dict
  purge_secrets:
    description:
      - With O(secrets), whether clusters that O(secrets) does not list are removed
        (V(true)) or kept (V(false)).
    type: bool
    default: true
notes:
  - The built-in registry V(humanitec) cannot be changed or deleted. A task that matches it
    reports no change; a task that would change or delete it fails before writing anything.
  - When the API answers a create with a conflict because a concurrent run created the same
    id, the module reads the record again and converges it instead of failing.
  - A request that gets no answer, or an answer with status 429, 502, 503 or 504, is retried.
    Writes are safe to repeat because the id is chosen by the task and an update sends the
    complete record.
seealso:
  - module: humanitec.platform.humanitec_registry_info
  - name: Humanitec API reference
    description: The registry endpoints of the Humanitec API.
    link: https://api-docs.humanitec.com/
"""

EXAMPLES = r"""
- name: A basic registry whose password comes from a vaulted variable
  humanitec.platform.humanitec_registry:
    org_id: acme
    api_token: "{{ vault_humanitec_token }}"
    id: harbor-main
    registry: harbor.example.com/platform
    type: basic
    creds:
      username: robot$platform
      password: "{{ vault_harbor_password }}"
      expires: "2027-01-31T00:00:00Z"

- name: An Amazon ECR registry (the creds endpoint derives tokens, so send creds on create only)
  humanitec.platform.humanitec_registry:
    org_id: acme
    api_token: "{{ vault_humanitec_token }}"
    id: ecr-main
    registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
    type: amazon_ecr
    enable_ci: true
    creds:
      username: "{{ vault_aws_access_key_id }}"
      password: "{{ vault_aws_secret_access_key }}"
    update_creds: on_create

- name: A Google registry with a service account key as the password
  humanitec.platform.humanitec_registry:
    org_id: acme
    api_token: "{{ vault_humanitec_token }}"
    id: gcr-main
    registry: europe-docker.pkg.dev/acme-prod/images
    type: google_gcr
    creds:
      username: _json_key
      password: "{{ lookup('ansible.builtin.file', 'gcr-key.json') | string }}"
    update_creds: on_create

- name: Registry credentials from Kubernetes secrets, for two clusters and the rest
  humanitec.platform.humanitec_registry:
    org_id: acme
    api_token: "{{ vault_humanitec_token }}"
    id: private-mirror
    registry: mirror.example.com
    type: secret_ref
    secrets:
      prod-eu:
        namespace: registry-secrets
        secret: mirror-pull
      prod-us:
        namespace: registry-secrets
        secret: mirror-pull-us
      "*":
        namespace: default
        secret: mirror-pull

- name: A public registry
  humanitec.platform.humanitec_registry:
    org_id: acme
    api_token: "{{ vault_humanitec_token }}"
    id: dockerhub
    registry: docker.io
    type: public

- name: See what would change, without changing it
  humanitec.platform.humanitec_registry:
    org_id: acme
    api_token: "{{ vault_humanitec_token }}"
    id: harbor-main
    enable_ci: true
  check_mode: true
  diff: true
  register: harbor_preview

- name: Set the connection once for every task in the block
  module_defaults:
    group/humanitec.platform.humanitec:
      org_id: acme
      api_token: "{{ vault_humanitec_token }}"
  block:
    - name: Delete a registry
      humanitec.platform.humanitec_registry:
        id: old-registry
        state: absent
"""

RETURN = r"""
registry:
  description:
    - The registry record after the task (in check mode, as it would be).
    - Never holds credentials.
    - V({}) when the registry is absent.
  returned: success
  type: dict
  contains:
    id:
      description: Registry id.
      type: str
      sample: harbor-main
    registry:
      description: Registry name, a host or host/project.
      type: str
      sample: harbor.example.com/platform
    type:
      description: Authentication method of the registry.
      type: str
      sample: basic
    enable_ci:
      description: Whether the registry's secrets and credentials are exposed to CI agents.
      type: bool
      sample: false
    secrets:
      description: Kubernetes secret references by cluster id.
      type: dict
      sample: {"*": {"namespace": "default", "secret": "regcred"}}
    created_at:
      description:
        - When the record was created (UTC, with milliseconds).
        - Null for a create in check mode.
      type: str
      sample: "2026-11-30T09:15:00.000Z"
    created_by:
      description: The user who created the record; null for a create in check mode.
      type: str
      sample: platform-team@example.com
status:
  description: HTTP status of the API's answer that made the task fail, when there was one.
  returned: failure
  type: int
  sample: 409
api_error:
  description: The API's own error message, or the cause when no answer came.
  returned: failure
  type: str
  sample: Registry name "harbor.example.com" is already used by registry "harbor-old"
"""

from ansible_collections.humanitec.platform.plugins.module_utils._client import (
    HumanitecApiError,
)
from ansible_collections.humanitec.platform.plugins.module_utils._module import (
    HumanitecModule,
    connection_argument_spec,
    fail_api_error,
    fail_on_problems,
    registries_api,
)
from ansible_collections.humanitec.platform.plugins.module_utils._registry import (
    BUILTIN_REGISTRY_ID,
    REGISTRY_TYPES,
    changed_fields,
    creds_body,
    creds_differ,
    desired_record,
    diff_side,
    params_problems,
    record_view,
    write_body,
)

ARGUMENT_SPEC = {
    "id": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "registry": {"type": "str"},
    "type": {"type": "str", "choices": list(REGISTRY_TYPES)},
    "enable_ci": {"type": "bool"},
    "creds": {
        "type": "dict",
        "options": {
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "expires": {"type": "str"},
        },
    },
    "update_creds": {"type": "str", "choices": ["always", "on_create"], "default": "always"},
    "secrets": {"type": "dict", "no_log": False},
    "purge_secrets": {"type": "bool", "default": True},
}


class CredsPlan:
    """What to do with the task's creds: what the API holds, and what to send (None: nothing)."""

    def __init__(self, stored: dict | None = None, to_send: dict | None = None) -> None:
        self.stored = stored
        self.to_send = to_send

    @property
    def password_changed(self) -> bool:
        return (
            self.to_send is not None
            and (self.stored or {}).get("password") != self.to_send["password"]
        )


class RegistryTask:
    """Makes one registry record match a task. `action` names the step for error messages."""

    def __init__(self, module: HumanitecModule, api) -> None:
        self.module = module
        self.api = api
        self.params = module.params
        self.registry_id = module.params["id"]
        self.action = f'read registry "{self.registry_id}"'
        self.diff = {"before": {}, "after": {}}

    def fail(self, message: str) -> None:
        self.module.fail_json(msg=message, registry={})

    def read(self) -> dict:
        self.action = f'read registry "{self.registry_id}"'
        return record_view(self.api.get(self.registry_id))

    def ensure_absent(self) -> dict:
        if self.registry_id == BUILTIN_REGISTRY_ID:
            self.fail(f'The built-in registry "{BUILTIN_REGISTRY_ID}" cannot be deleted.')

        current = self.read()
        if not current:
            return {"changed": False, "registry": {}}

        self.diff = {"before": diff_side(current), "after": {}}
        if not self.module.check_mode:
            self.action = f'delete registry "{self.registry_id}"'
            deleted = self.api.delete(self.registry_id)
            # A 404 after a retry means the first, unanswered DELETE did the work.
            if not deleted and not self.api.client.retries_used:
                return {"changed": False, "registry": {}}
        return {"changed": True, "registry": {}}

    def ensure_present(self) -> dict:
        current = self.read()
        if current:
            return self.converge(current)
        return self.create()

    def create(self) -> dict:
        missing = [option for option in ("registry", "type") if self.params[option] is None]
        if missing:
            self.fail(
                f'Registry "{self.registry_id}" does not exist; to create it, set '
                f"{' and '.join(missing)}."
            )

        desired = desired_record({}, self.params)
        creds = creds_body(self.params["creds"], None) if self.params["creds"] else None
        self.diff = {"before": {}, "after": diff_side(desired, creds)}
        if self.module.check_mode:
            return {
                "changed": True,
                "registry": {**desired, "created_at": None, "created_by": None},
            }

        self.action = f'create registry "{self.registry_id}"'
        try:
            created = self.api.create(write_body(desired, creds))
        except HumanitecApiError as error:
            if error.status != 409:
                raise
            return self.resolve_create_conflict(error)
        return {"changed": True, "registry": record_view(created)}

    def resolve_create_conflict(self, error: HumanitecApiError) -> dict:
        """A 409 on create: the id exists now (a concurrent run, or our own retried POST),
        or another record already uses the registry name."""
        post_was_retried = self.api.client.retries_used > 0
        current = self.read()
        if not current:
            self.fail_name_conflict(error)

        outcome = self.converge(current)
        outcome["changed"] = outcome["changed"] or post_was_retried
        if post_was_retried:
            self.diff["before"] = {}
        return outcome

    def fail_name_conflict(self, error: HumanitecApiError) -> None:
        self.action = "list the registries"
        owner = next(
            (
                item["id"]
                for item in self.api.list()
                if item.get("registry") == self.params["registry"]
            ),
            None,
        )
        owner_text = f'registry "{owner}"' if owner else "another registry"
        self.module.fail_json(
            msg=f'Could not create registry "{self.registry_id}": the registry name '
            f'"{self.params["registry"]}" is already used by {owner_text}.',
            status=error.status,
            api_error=error.api_message,
            registry={},
        )

    def plan_creds(self) -> CredsPlan | None:
        """None when the task does not manage creds for this existing record."""
        given = self.params["creds"]
        if not given or self.params["update_creds"] == "on_create":
            return None

        self.action = f'read the credentials of registry "{self.registry_id}"'
        try:
            stored = self.api.get_creds(self.registry_id)
        except HumanitecApiError as error:
            if error.status not in (401, 403):
                raise
            self.module.warn(
                f'Could not compare the credentials of registry "{self.registry_id}" '
                f"({error}); they are sent as given and reported as changed."
            )
            return CredsPlan(None, creds_body(given, None))

        if creds_differ(stored, given):
            return CredsPlan(stored, creds_body(given, stored))
        return CredsPlan(stored, None)

    def converge(self, current: dict) -> dict:
        desired = desired_record(current, self.params)
        fields = changed_fields(current, desired)
        creds_plan = self.plan_creds()
        creds_to_send = creds_plan.to_send if creds_plan else None

        self.diff = self.diff_of(current, desired, creds_plan)
        if not fields and creds_to_send is None:
            return {"changed": False, "registry": current}
        if self.registry_id == BUILTIN_REGISTRY_ID:
            self.fail(f'The built-in registry "{BUILTIN_REGISTRY_ID}" cannot be changed.')
        if self.module.check_mode:
            return {"changed": True, "registry": {**current, **desired}}

        self.action = f'update registry "{self.registry_id}"'
        updated = self.api.update(self.registry_id, write_body(desired, creds_to_send))
        return {"changed": True, "registry": record_view(updated)}

    @staticmethod
    def diff_of(current: dict, desired: dict, creds_plan: CredsPlan | None) -> dict:
        if creds_plan is None:
            return {"before": diff_side(current), "after": diff_side(desired)}
        after_creds = creds_plan.to_send or creds_plan.stored
        return {
            "before": diff_side(current, creds_plan.stored or {}),
            "after": diff_side(desired, after_creds, creds_plan.password_changed),
        }


def run_module() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(ARGUMENT_SPEC)
    module = HumanitecModule(argument_spec=argument_spec, supports_check_mode=True)
    fail_on_problems(module, params_problems(module.params))

    api = registries_api(module)
    task = RegistryTask(module, api)

    try:
        if module.params["state"] == "absent":
            result = task.ensure_absent()
        else:
            result = task.ensure_present()
    except HumanitecApiError as error:
        fail_api_error(module, f'{task.action} of organization "{api.org_id}"', error, registry={})
    finally:
        api.client.close()

    if module._diff:
        result["diff"] = task.diff
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
