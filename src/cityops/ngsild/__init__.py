"""NGSI-LD API (ETSI GS CIM 009 v1.8) over the store: entities, query, temporal, subscriptions."""
