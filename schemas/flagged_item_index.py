"""The Elasticsearch index template for flagged items (the documents HR reviews).

``text`` is analysed for full-text search (the ``english`` analyser where the node has it; the minimal
distribution started by ``ims-monitor infra`` ships only the ``standard`` one), with a ``text.exact``
sub-field for phrase-exact matching. Everything used for filters and facets is a ``keyword``; times are
``date``; scores are numbers. ``dynamic: strict`` makes a field the contract does not know an error at
index time, instead of a silently guessed mapping.
"""

from __future__ import annotations

from typing import Any

from schemas.records import POLICY_LABELS

TEMPLATE_VERSION = 1


def flagged_items_template(index_name: str, *, english_analysis: bool) -> dict[str, Any]:
    """Body for ``PUT _index_template/<index_name>`` matching ``index_name`` and its rollovers."""
    analyzer = "english" if english_analysis else "standard"
    keyword = {"type": "keyword"}
    return {
        "index_patterns": [index_name, f"{index_name}-*"],
        "version": TEMPLATE_VERSION,
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            "mappings": {
                "dynamic": "strict",
                "_meta": {"template_version": TEMPLATE_VERSION, "analyzer": analyzer},
                "properties": {
                    "schema_version": {"type": "integer"},
                    "mention_id": keyword,
                    "source": keyword,
                    "source_id": keyword,
                    "url": {"type": "keyword", "index": False},
                    "text": {
                        "type": "text",
                        "analyzer": analyzer,
                        "fields": {"exact": {"type": "text", "analyzer": "standard"}},
                    },
                    "created_at": {"type": "date"},
                    "collected_at": {"type": "date"},
                    "indexed_at": {"type": "date"},
                    "classified_at": {"type": "date"},
                    "author_handle": {"type": "keyword", "fields": {"text": {"type": "text"}}},
                    "author_display_name": {"type": "text"},
                    "author_is_employee": {"type": "boolean"},
                    "employee_id": keyword,
                    "lang": keyword,
                    "reach_followers": {"type": "long"},
                    "reach_likes": {"type": "long"},
                    "reach_shares": {"type": "long"},
                    "media_urls": {"type": "keyword", "index": False},
                    "matched_rule": keyword,
                    "about_ims": {"type": "float"},
                    "labels": keyword,
                    "scores": {"properties": {label: {"type": "float"} for label in POLICY_LABELS}},
                    "risk": {"type": "integer"},
                    # Free-form per-label lists of words; stored for display, not searched.
                    "explanations": {"type": "object", "enabled": False},
                    "classifier": keyword,
                    # Image matches with embedded thumbnails; shown by the dashboard, not searched.
                    "image_evidence": {"type": "object", "enabled": False},
                    "review": {
                        "properties": {
                            "status": keyword,
                            "assignee": keyword,
                            "updated_at": {"type": "date"},
                            "updated_by": keyword,
                            "notes": {"type": "object", "enabled": False},
                            "history": {"type": "object", "enabled": False},
                        }
                    },
                },
            },
        },
    }
