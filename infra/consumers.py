"""The one place a confluent-kafka consumer's configuration is built.

Every consumer the lag probe and the topic tail create takes its configuration from
`consumer_config`; given Settings it carries the broker's credentials (Settings.kafka_security()).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from infra.settings import Settings

# what librdkafka reports (connection errors, ...) goes through Python logging, so it comes out
# as JSON lines like everything else instead of raw text on stderr; delivered by poll/consume
RDKAFKA_LOGGER = "librdkafka"


def consumer_config(
    source: Settings | str,
    options: Mapping[str, Any] | None = None,
    security: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """librdkafka properties of a consumer of `source` (Settings, or a bootstrap address).

    Defaults: nothing is committed unless the caller asks (`enable.auto.commit` off) and
    librdkafka's own log goes through the `librdkafka` Python logger. `options` (librdkafka
    property names, e.g. {"group.id": ...}) override the defaults; the caller must not put
    credentials there: they come from Settings, or from `security` (Settings.kafka_security())
    for a caller that holds only a bootstrap address.
    """
    bootstrap = source if isinstance(source, str) else source.bootstrap
    if security is None:
        security = {} if isinstance(source, str) else source.kafka_security()
    return {
        "bootstrap.servers": bootstrap,
        "enable.auto.commit": False,
        "logger": logging.getLogger(RDKAFKA_LOGGER),
        **(options or {}),
        **security,
    }
