#!/usr/bin/python
# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: humanitec_registry_info
short_description: List the container registries of a Humanitec organization
version_added: 0.1.0
description:
  - Lists the registry records of a Humanitec organization, or loads one of them.
  - Optionally reads each registry's credentials from the API's creds endpoint.
author:
  - Humanitec Platform collection maintainers (@humanitec)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - humanitec.platform.connection
  - humanitec.platform.connection.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: N/A
    details: The module changes nothing.
  platform:
    platforms: all
options:
  id:
    description:
      - Id of one registry to load.
      - When the registry does not exist, RV(registries) is empty; that is not a failure.
      - When not set, all registries of the organization are listed.
      - Must match V(^[a-z0-9][a-z0-9-]+[a-z0-9]$), as registry ids do.
    type: str
  include_creds:
    description:
      - Whether to add each registry's credentials, read from the creds endpoint, as
        RV(registries[].creds).
      - This costs one more request per registry; they are sent eight at a time over the same
        connections.
      - >-
        The result then holds passwords and tokens. Set C(no_log: true) on such a task and keep
        what it registers out of logs.
    type: bool
    default: false
notes:
  - Credentials of registries whose type derives short-lived tokens (such as V(amazon_ecr) or
    V(google_gcr)) may be returned as the derived token rather than the stored secret.
seealso:
  - module: humanitec.platform.humanitec_registry
"""

EXAMPLES = r"""
- name: List the registries of the organization
  humanitec.platform.humanitec_registry_info:
    org_id: acme
    api_token: "{{ humanitec_token }}"
  register: org_registries

- name: Load one registry
  humanitec.platform.humanitec_registry_info:
    org_id: acme
    api_token: "{{ humanitec_token }}"
    id: ecr-main
  register: ecr_main

- name: Read credentials too (the result holds secrets, so keep it out of the log)
  humanitec.platform.humanitec_registry_info:
    org_id: acme
    api_token: "{{ humanitec_token }}"
    include_creds: true
  register: registries_with_creds
  no_log: true

- name: Set the connection once for every module of the collection
  module_defaults:
    group/humanitec.platform.humanitec:
      org_id: acme
      api_token: "{{ humanitec_token }}"
  block:
    - name: List registries with the group's defaults
      humanitec.platform.humanitec_registry_info:
      register: org_registries
"""

RETURN = r"""
registries:
  description:
    - The registries of the organization, or the one asked for with O(id).
    - Empty when O(id) names a registry that does not exist.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Registry id, unique within the organization.
      type: str
      sample: ecr-main
    registry:
      description: Registry name, a host or host/project.
      type: str
      sample: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
    type:
      description: Authentication method of the registry.
      type: str
      sample: amazon_ecr
    enable_ci:
      description: Whether the registry's secrets and credentials are exposed to CI agents.
      type: bool
      sample: false
    secrets:
      description: Kubernetes secret references by cluster id (V(*) for every cluster).
      type: dict
      sample: {"*": {"namespace": "dev-secrets", "secret": "regcred"}}
    created_at:
      description: When the record was created (UTC, with milliseconds).
      type: str
      sample: "2026-11-30T09:15:00.000Z"
    created_by:
      description: The user who created the record.
      type: str
      sample: platform-team@example.com
    creds:
      description:
        - The registry's credentials. Holds secrets.
        - Empty strings for a registry without stored credentials.
      type: dict
      returned: when O(include_creds=true)
      contains:
        username:
          description: Account login or token id.
          type: str
        password:
          description: Account password or token secret.
          type: str
        expires:
          description: When the credentials expire (UTC), or null.
          type: str
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
    id_problems,
    normalise_timestamp,
    record_view,
)

# How many creds requests run at once; also the size of the connection pool. Eight keeps a
# task within a few connections to the API while hiding most of the latency of N reads.
CREDS_WORKERS = 8


def creds_view(api_creds: dict | None) -> dict:
    creds = api_creds or {}
    return {
        "username": creds.get("username") or "",
        "password": creds.get("password") or "",
        "expires": normalise_timestamp(creds.get("expires")),
    }


def add_creds(api, registries: list[dict]) -> None:
    """Fetch each registry's creds concurrently over the one session."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=CREDS_WORKERS) as pool:
        all_creds = list(pool.map(api.get_creds, [item["id"] for item in registries]))
    for registry, api_creds in zip(registries, all_creds):
        registry["creds"] = creds_view(api_creds)


def read_registries(api, registry_id: str | None) -> list[dict]:
    if registry_id is None:
        return [record_view(item) for item in api.list()]
    record = api.get(registry_id)
    return [record_view(record)] if record else []


def run_module() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        id={"type": "str"},
        include_creds={"type": "bool", "default": False},
    )
    module = HumanitecModule(argument_spec=argument_spec, supports_check_mode=True)
    fail_on_problems(module, id_problems(module.params["id"]))

    api = registries_api(module, pool_size=CREDS_WORKERS)
    what = f'registry "{module.params["id"]}"' if module.params["id"] else "registries"
    action = f'read {what} of organization "{api.org_id}"'

    try:
        registries = read_registries(api, module.params["id"])
        if module.params["include_creds"]:
            action = f'read the credentials of {what} of organization "{api.org_id}"'
            add_creds(api, registries)
    except HumanitecApiError as error:
        fail_api_error(module, action, error)
    finally:
        api.client.close()

    module.exit_json(changed=False, registries=registries)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
