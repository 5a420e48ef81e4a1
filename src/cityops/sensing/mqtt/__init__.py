"""MQTT: devices publish observations through the broker; subscribers receive new Observations.

One client per cityops node (``settings.mqtt_client_id``) connects to the broker (``settings.mqtt_url``) with
MQTT 5, a persistent session (clean start off, a long session expiry) and QoS 1 subscriptions, so the broker
keeps what devices publish while cityops is down and delivers it on reconnect. It listens to:

``v1.1/Datastreams(<id>)/Observations`` (and ``v1.1/Observations`` with a ``Datastream`` in the body)
    An Observation in SensorThings JSON, created exactly as an STA POST
    (:func:`cityops.sensing.sta_api.create_at_path`): deduplicated on (datastream, phenomenonTime), so a QoS 1
    redelivery never makes a second row. As in FROST, STA messages carry no credentials: **the broker's ACL
    is the guard** (grant ``write`` on ``v1.1/#`` only to trusted gateways). Such messages may only create
    Observations, never other entities. An Observation without ``phenomenonTime`` gets the time it
    arrived (see "Redelivery" below).
``cityops/v1/devices/<api key>/telemetry``
    For cheap loggers that know no ids: ``{"ts": <epoch ms | ISO 8601 with offset>, "values": {"<name>": v}}``
    or a list of those (``ts`` omitted = now). The key must be a usable ``ingest`` API key bound to a Thing;
    each name is matched to a Datastream of that Thing by its name, else by its ObservedProperty's code
    (``salinity``, ``pm25``). Unknown names are logged and counted, the known ones are stored. The key
    is a secret in the topic name: let devices only *write* their own topic (Mosquitto ``pattern write
    cityops/v1/devices/%u/telemetry`` with the key as username) and only cityops read ``cityops/v1/devices/#``.

Every new Observation (whatever the intake: HTTP, MQTT, simulator) is published, rendered as in STA (with
``@iot.id``), to ``v1.1/Datastreams(<id>)/Observations`` and ``v1.1/Observations``, driven by the
``observations.created`` bus event (durable consumer ``mqtt-publish``), not by intake. Loops are avoided
twice: the subscription uses MQTT 5 *no local* (the broker never returns our own publications), and a
message that already has an ``@iot.id`` is an entity notification (of any cityops node) and never ingested.

A message is acknowledged (PUBACK) only after its database transaction committed, so an acknowledged
message is never lost. The client is paho-mqtt (MQTT 5, manual acknowledgement), driven by the asyncio
event loop through paho's external-loop API: what it receives is queued, and the messages that arrived
together (up to ``MAX_BATCH``) are handled as one batch —
plain Observations validated one by one and the valid ones stored in one transaction, the others one
transaction each — and their PUBACKs go out after the commits.

Outcomes (``cityops_mqtt_messages_total{kind, outcome}``): ``stored``; bad messages (invalid JSON, unknown
datastream, wrong types, refused key) are ``invalid``/``rejected``/``unknown_topic``, logged and acknowledged
(a redelivery would fail the same way), and never spoil the batch they came in. A failure of cityops itself
(an exception while storing) is ``error``: if a whole batch fails, its messages are stored one by one, so
one bad apple does not hold back the others; a message that still fails stays unacknowledged while the
others are acknowledged, and the bridge reconnects (with back-off) so the broker delivers it again. When
the first few of a batch all fail (the database is down or locked), the rest are left untried for that
redelivery: ``deferred``, not ``error``, so the error count is the number of failed attempts. After
``settings.mqtt_max_attempts`` failed deliveries of the same message (counted in memory by topic and
payload) it is parked in the ``mqtt_dead_letters`` table (:mod:`.deadletter`) and
acknowledged: ``dead_letter``. A table rather than a dead-letter topic because parking must be as durable
as storing and must fail exactly when storing cannot work: while the database is down nothing can be
parked, so an outage never diverts traffic to the dead letters (a topic would take it all, and Mosquitto
drops QoS 1 messages on a topic nobody subscribes to).

Redelivery: storage deduplicates on (datastream, phenomenonTime), so a redelivered message with a time of
its own never makes a second row. A message without one (an STA Observation without ``phenomenonTime``,
device readings without ``ts``) gets the server time (as OGC 18-088 asks) — a second delivery would get
another. The broker resends an unacknowledged message with the DUP flag and its original packet id, and
reuses a packet id only after the message that had it was acknowledged; so the bridge remembers, per packet
id, the (topic, payload) hash and the time it gave the last time-less message, and a DUP delivery of the
same topic and payload gets that same time and is recognised as a duplicate. This holds while the process
lives: after a cityops crash or restart (or when another worker takes the subscription over) the times are
forgotten, and a time-less message that was committed but not yet acknowledged at the crash is stored a
second time. Devices should send ``phenomenonTime``/``ts``.

Several API workers on one node share ``mqtt_client_id``: the worker holding an exclusive lock on
``<data_dir>/mqtt-<client id>.lock`` subscribes with it; the others connect publish-only (their own
client id, clean session) and take the subscription over when the holder stops. Give each node its
own client id.

Scaling out (a *share group*, ``mqtt_share_group``):
every process subscribes to ``$share/<group>/<topic>`` (MQTT 5 shared subscriptions, Mosquitto ≥ 2), and
the broker hands each message to one member of the group, so N processes (``cityops serve --workers N``,
on one node or many) split the messages. Each process takes a *slot*: the lowest ``k`` whose lock
``<data_dir>/mqtt-<client id>[-k].lock`` is free, and subscribes as ``<client id>`` (slot 0) or
``<client id>-<k>``, with a persistent session, so its id is stable across restarts. Mosquitto keeps
routing a share of the messages to the session of a member that is away (crashed), and delivers them
when the slot is taken again. A member that stops cleanly therefore first unsubscribes (slot 0 excepted:
it keeps receiving everything while the whole group is down) and works off what the broker already sent it.
MQTT 5 forbids *no local* on a shared subscription, so the group also receives cityops' own notifications;
they carry ``@iot.id`` and are acknowledged as ``echo`` without being stored. Without no local to keep,
members connect with MQTT 3.1.1 (``SHARED_V311``), which paho decodes at half the cost of MQTT 5; their
in-flight window is then the broker's ``max_inflight_messages``.

Broker limits matter under load (docs/deployment.md, "Mosquitto"): Mosquitto drops QoS 1 messages for
a client beyond ``max_queued_messages`` (default 1000); the bridge lets up to ``RECEIVE_MAXIMUM`` messages
be in flight to it (MQTT 5 Receive Maximum, which Mosquitto honours for MQTT 5 clients instead of its
``max_inflight_messages``).

The package, one responsibility a module: :mod:`.transport` (the paho client on the event loop),
:mod:`.intake` (what a message becomes), :mod:`.bridge` (the node's client: batches, acknowledgements,
retries, :func:`~.bridge.install`), :mod:`.subscription` (filters, share-group slots), :mod:`.publisher`
(notifications) and :mod:`.deadletter` (the parked messages).
"""
