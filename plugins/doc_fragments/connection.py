# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The options every module of the collection takes to reach the Humanitec API.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the Humanitec API.
      - A plain C(http://) URL to a host other than the loopback interface raises a warning,
        because the API token would travel unencrypted.
      - If not set, the value of the E(HUMANITEC_API_PREFIX) environment variable is used.
    type: str
    default: https://api.humanitec.io
  api_token:
    description:
      - Humanitec API token, sent as a bearer token.
      - If not set, the value of the E(HUMANITEC_TOKEN) environment variable is used.
      - It never appears in results, messages or logs.
    type: str
    required: true
  org_id:
    description:
      - Id of the Humanitec organization whose registries are managed.
      - If not set, the value of the E(HUMANITEC_ORG) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
      - Set to V(false) only for a test server with a self-signed certificate; to trust a
        private CA instead, point the E(REQUESTS_CA_BUNDLE) environment variable at its bundle.
    type: bool
    default: true
  request_timeout:
    description:
      - Seconds to wait for a connection and for each answer of the API.
    type: float
    default: 30
  max_retries:
    description:
      - How many times a request is retried after a connection error, a timeout, or an answer
        with status 429, 502, 503 or 504.
      - Waits grow exponentially from about half a second (with jitter, at most 30 seconds
        each); a C(Retry-After) header is honoured up to 60 seconds.
      - Between 0 and 20.
    type: int
    default: 5
requirements:
  - requests
"""

    # Attributes shared by the modules of the collection.
    ATTRIBUTES = r"""
attributes:
  action_group:
    description:
      - Use C(group/humanitec.platform.humanitec) in C(module_defaults) to set defaults for
        this module.
    support: full
    membership:
      - humanitec.platform.humanitec
"""
