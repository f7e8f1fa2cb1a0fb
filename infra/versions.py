"""Pinned versions of the services ``ims-monitor infra`` runs, and why.

Kafka 4.4.0: the newest release on Maven Central when chosen (2026-11). faust-streaming 0.15.3 (aiokafka 0.14.0)
and kafka-python 3.0.12 were both checked against a single KRaft node of it: produce with kafka-python,
consume with a Faust agent, consumer-group commits. Kafka 4.x dropped the old protocol versions; older
clients fail against it, so keep the client pins in pyproject.toml together with this one. Fallback: 3.9.1.

Elasticsearch 8.19.21: the newest 8.x published as ``org.elasticsearch.distribution.integ-test-zip``. It runs
on the machine's default Java 17 (9.x needs Java 21+), and the Python client is pinned to the same major
(``elasticsearch>=8.19,<9``): a client of a newer major than the server refuses to talk to it.
"""

from __future__ import annotations

KAFKA_VERSION = "4.4.0"
KAFKA_SCALA_ARTIFACT = "org.apache.kafka:kafka_2.13"
# Kafka 4.x logs through log4j2 and expects an slf4j 2 binding on the classpath.
KAFKA_EXTRA_ARTIFACTS = (
    "org.apache.logging.log4j:log4j-core:2.24.3",
    "org.apache.logging.log4j:log4j-slf4j2-impl:2.24.3",
    "org.slf4j:slf4j-api:2.0.17",
)

ELASTICSEARCH_VERSION = "8.19.21"
ELASTICSEARCH_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch"
