"""Who does what on the broker: the queues each party declares, consumes and deletes, the routing
keys it publishes, and the protobuf message that travels on each key.

Everything here is derived from the names in this package: a per-sensor or per-device name is
made by calling the same function the services call, with placeholder words, which then become
template parameters (``sensor.{serial}.commands``). From this table the deployment tooling
generates the RabbitMQ users' least-privilege permissions and the AsyncAPI document, so when a
service starts declaring or publishing something new, this table (and with it the generated files)
must change too; the tests compare both against the services' behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from iot_routing.devices import (
    JOIN_ACKS,
    JOIN_REQUESTS,
    PONGS,
    device_queue,
    join_acks_key,
    join_key,
    join_requests_key,
    ping_key,
    pongs_key,
)
from iot_routing.names import (
    COMMAND_ACKS,
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    HEARTBEATS,
    LOGS,
    MEASUREMENTS_DB_WRITER,
    REGISTRY_CREATED,
    Command,
    Exchange,
    QueueSpec,
    command_acks_key,
    commands_key,
    commands_queue,
    heartbeat_key,
    logs_key,
    measurements_key,
    registry_key,
)


@dataclass(frozen=True)
class Word:
    """A variable word of a name: its parameter name, the placeholder the routing functions are
    called with, and the regular expression (RabbitMQ's PCRE and Python's alike) it stands for.

    The expressions are as loose as the validators allow or looser (a serial's "at least one
    letter" is not expressed); they never span a dot, so a word never reaches into another name.
    """

    parameter: str
    placeholder: str
    pattern: str
    description: str
    values: tuple[str, ...] = ()


SERIAL = Word(
    "serial", "SERIALQQX", r"[A-Za-z0-9-]{1,64}", "A sensor's serial number (iot_routing.serials)"
)
DEVICE = Word("device", "dev-qqqqqqqqqqqqqqqx", r"dev-[a-z0-9]{16}", "A device id (dev-<16>)")
PROJECT = Word("project", "projqqx", r"[a-z0-9][a-z0-9-]{0,62}", "A project id")
GROUP = Word("group", "grpqqx", r"[a-z0-9][a-z0-9-]{0,62}", "A device group of the project")
COMMAND = Word(
    "command",
    "commandqqx",
    "(" + "|".join(command.value for command in Command) + ")",
    "The command, also the action set in the message",
    tuple(command.value for command in Command),
)
WORDS = (SERIAL, DEVICE, PROJECT, GROUP, COMMAND)

_PARAMETER = re.compile(r"\{([a-z]+)\}")
_TOPIC_WILDCARDS = frozenset({"*", "#"})


def escape(literal: str) -> str:
    """A literal for a RabbitMQ permission regex: dots and wildcards escaped, nothing else,
    so the expressions stay readable (``sensor\\.all\\.logs``)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", literal)


@dataclass(frozen=True)
class Name:
    """A queue name or routing key, possibly with parameters: ``sensor.{serial}.logs``."""

    template: str

    @property
    def parameters(self) -> tuple[Word, ...]:
        found = _PARAMETER.findall(self.template)
        return tuple(word for name in found for word in WORDS if word.parameter == name)

    @property
    def is_pattern(self) -> bool:
        """Whether this is a concrete name or stands for many (per sensor or per device)."""
        return bool(self.parameters)

    @property
    def regex(self) -> str:
        """The unanchored expression for exactly the names this template stands for."""
        parts = _PARAMETER.split(self.template)
        words = {word.parameter: word.pattern for word in WORDS}
        # split() alternates literal text and parameter names.
        return "".join(
            words[part] if index % 2 else escape(part) for index, part in enumerate(parts)
        )

    def example(self, **values: str) -> str:
        """A concrete name: the given values, else each word's placeholder."""
        return _PARAMETER.sub(
            lambda found: values.get(
                found.group(1), next(w.placeholder for w in WORDS if w.parameter == found.group(1))
            ),
            self.template,
        )

    def __str__(self) -> str:
        return self.template


def _templated(concrete: str, *words: Word, every: bool = True) -> Name:
    """Placeholders back to parameters; each word at most once (exactly once with `every`)."""
    for word in words:
        if concrete.count(word.placeholder) not in ((1,) if every else (0, 1)):
            raise AssertionError(f"placeholder {word.placeholder} not once in {concrete!r}")
        concrete = concrete.replace(word.placeholder, "{" + word.parameter + "}")
    return Name(concrete)


def _key(function: Callable[..., str], *words: Word) -> Name:
    return _templated(function(*(word.placeholder for word in words)), *words)


def _command_key() -> Name:
    # The command word is an enum, not free text: every value must give the same template.
    templates = {
        commands_key(SERIAL.placeholder, command).rsplit(".", 1)[0] + ".{command}"
        for command in Command
    }
    if len(templates) != 1:
        raise AssertionError(f"commands_key is not <prefix>.<command>: {templates}")
    return _templated(templates.pop(), SERIAL)


@dataclass(frozen=True)
class Queue:
    """A queue as declared: its name (template), bindings (templates) and exact arguments."""

    spec: QueueSpec
    name: Name
    bindings: tuple[Name, ...]

    @property
    def exchange(self) -> Exchange:
        return self.spec.exchange

    @property
    def arguments(self) -> dict[str, Any]:
        return self.spec.arguments

    @property
    def dead_letter(self) -> Queue | None:
        dead_letter = self.spec.dead_letter
        return None if dead_letter is None else _queue(dead_letter)

    def with_dead_letter(self) -> tuple[Queue, ...]:
        """This queue and, if it has one, its dead-letter queue (declared together)."""
        dead_letter = self.dead_letter
        return (self,) if dead_letter is None else (self, dead_letter)


def _queue(spec: QueueSpec, *words: Word) -> Queue:
    return Queue(
        spec,
        _templated(spec.name, *words, every=False),
        tuple(_templated(binding, *words, every=False) for binding in spec.bindings),
    )


@dataclass(frozen=True)
class Route:
    """A routing key on the iot exchange and the protobuf message published with it."""

    key: Name
    message: str  # full protobuf name, e.g. iot.v1.MeasurementBatch
    summary: str


MEASUREMENTS = Route(
    _key(measurements_key, SERIAL), "iot.v1.MeasurementBatch", "A batch of a sensor's samples"
)
REGISTRATIONS = Route(
    _key(registry_key, SERIAL), "iot.v1.SensorRegistration", "A sensor's registration at boot"
)
SENSOR_LOGS = Route(_key(logs_key, SERIAL), "iot.v1.SensorLog", "One log line of a sensor")
SENSOR_HEARTBEATS = Route(
    _key(heartbeat_key, SERIAL), "iot.v1.SensorHeartbeat", "A sensor's periodic heartbeat"
)
SENSOR_COMMAND_ACKS = Route(
    _key(command_acks_key, SERIAL),
    "iot.v1.CommandAck",
    "A sensor's acknowledgement of a command (delivered, then the outcome)",
)
SENSOR_COMMANDS = Route(_command_key(), "iot.v1.SensorCommand", "A command for one sensor")
JOIN_REQUEST_ROUTE = Route(
    _key(join_requests_key, PROJECT),
    "iot.v1.JoinRequest",
    "A join request handed from the api-gateway to the join-dispatcher",
)
SESSION_JOINS = Route(
    _key(join_key, PROJECT, GROUP, DEVICE),
    "iot.v1.SessionJoin",
    "One device's JOIN for a session, with its own join token",
)
DEVICE_PINGS = Route(
    _key(ping_key, PROJECT, GROUP), "iot.v1.DevicePing", "A presence ping to a device group"
)
DEVICE_JOIN_ACKS = Route(
    _key(join_acks_key, DEVICE), "iot.v1.JoinAck", "A device's answer to a JOIN"
)
DEVICE_PONGS = Route(_key(pongs_key, DEVICE), "iot.v1.DevicePong", "A device's answer to a ping")

ROUTES = (
    MEASUREMENTS,
    REGISTRATIONS,
    SENSOR_LOGS,
    SENSOR_HEARTBEATS,
    SENSOR_COMMAND_ACKS,
    SENSOR_COMMANDS,
    JOIN_REQUEST_ROUTE,
    SESSION_JOINS,
    DEVICE_PINGS,
    DEVICE_JOIN_ACKS,
    DEVICE_PONGS,
)

# Fan-in queues (one each) and the per-sensor / per-device queues (one per sensor or device).
MEASUREMENTS_QUEUE = _queue(MEASUREMENTS_DB_WRITER)
REGISTRY_QUEUE = _queue(REGISTRY_CREATED)
LOGS_QUEUE = _queue(LOGS)
COMMAND_ACKS_QUEUE = _queue(COMMAND_ACKS)
HEARTBEATS_QUEUE = _queue(HEARTBEATS)
JOIN_REQUESTS_QUEUE = _queue(JOIN_REQUESTS)
JOIN_ACKS_QUEUE = _queue(JOIN_ACKS)
PONGS_QUEUE = _queue(PONGS)
SENSOR_COMMANDS_QUEUE = _queue(commands_queue(SERIAL.placeholder), SERIAL)
DEVICE_INBOX = _queue(
    device_queue(PROJECT.placeholder, GROUP.placeholder, DEVICE.placeholder),
    PROJECT,
    GROUP,
    DEVICE,
)


@dataclass(frozen=True)
class Party:
    """One kind of broker client and everything it does there.

    `declares` are the queues it declares (each with its dead-letter queue, as
    iot_messaging.declare_queue does); `exchanges` says whether it also declares both
    exchanges (iot_messaging.declare_topology). `internal_user` is False for devices, which log
    in through the api-gateway's HTTP auth backend and get no RabbitMQ user.
    """

    name: str
    description: str
    declares: tuple[Queue, ...] = ()
    consumes: tuple[Queue, ...] = ()
    deletes: tuple[Queue, ...] = ()
    publishes: tuple[Route, ...] = ()
    internal_user: bool = True
    exchanges: bool = True

    @property
    def declared_queues(self) -> tuple[Queue, ...]:
        """Declared queues and their dead-letter queues."""
        return tuple(q for queue in self.declares for q in queue.with_dead_letter())


SENSOR_SIMULATOR = Party(
    "sensor-simulator",
    "One simulated sensor: streams measurements, logs, registrations and heartbeats, takes"
    " commands from its own queue and acknowledges them. Declares only its own command queue:"
    " the broker's definitions create the exchanges and the consumers' queues, which a sensor"
    " (the untrusted edge) may neither configure nor read. (Against a bare broker in local"
    " development, as guest, it declares them too: IOT_DECLARE_TOPOLOGY.)",
    declares=(SENSOR_COMMANDS_QUEUE,),
    # Configure on an exchange includes deleting it: a sensor must never have it.
    exchanges=False,
    consumes=(SENSOR_COMMANDS_QUEUE,),
    publishes=(
        MEASUREMENTS,
        REGISTRATIONS,
        SENSOR_LOGS,
        SENSOR_HEARTBEATS,
        SENSOR_COMMAND_ACKS,
    ),
)
MEASUREMENTS_INGESTER = Party(
    "measurements-ingester",
    "Writes measurement batches into the database.",
    declares=(MEASUREMENTS_QUEUE,),
    consumes=(MEASUREMENTS_QUEUE,),
)
LOGS_INGESTER = Party(
    "logs-ingester",
    "Writes sensors' log lines into the database.",
    declares=(LOGS_QUEUE,),
    consumes=(LOGS_QUEUE,),
)
SENSOR_REGISTRY = Party(
    "sensor-registry",
    "Records registrations, command acknowledgements and heartbeats (presence).",
    declares=(REGISTRY_QUEUE, COMMAND_ACKS_QUEUE, HEARTBEATS_QUEUE),
    consumes=(REGISTRY_QUEUE, COMMAND_ACKS_QUEUE, HEARTBEATS_QUEUE),
)
API_GATEWAY = Party(
    "api-gateway",
    "Publishes sensors' commands (declaring each sensor's command queue first), declares a"
    " device's queue at registration and deletes it at revocation, and hands join requests"
    " to the join-dispatcher (declaring its queue first).",
    declares=(SENSOR_COMMANDS_QUEUE, DEVICE_INBOX, JOIN_REQUESTS_QUEUE),
    deletes=(DEVICE_INBOX,),
    publishes=(SENSOR_COMMANDS, JOIN_REQUEST_ROUTE),
)
JOIN_DISPATCHER = Party(
    "join-dispatcher",
    "Turns join requests into one JOIN per device (declaring each device's queue first), pings"
    " device groups, and records the devices' answers.",
    declares=(JOIN_REQUESTS_QUEUE, JOIN_ACKS_QUEUE, PONGS_QUEUE, DEVICE_INBOX),
    consumes=(JOIN_REQUESTS_QUEUE, JOIN_ACKS_QUEUE, PONGS_QUEUE),
    publishes=(SESSION_JOINS, DEVICE_PINGS),
)
DEVICE_CLIENT = Party(
    "device",
    "A session device (iot-device, libs/device): consumes its own queue, which it only"
    " passive-declares, and answers JOINs and pings. Authorised by the api-gateway's broker-auth"
    " listener, not by a RabbitMQ user.",
    consumes=(DEVICE_INBOX,),
    publishes=(DEVICE_JOIN_ACKS, DEVICE_PONGS),
    internal_user=False,
    exchanges=False,
)

PARTIES = (
    API_GATEWAY,
    SENSOR_REGISTRY,
    MEASUREMENTS_INGESTER,
    LOGS_INGESTER,
    JOIN_DISPATCHER,
    SENSOR_SIMULATOR,
    DEVICE_CLIENT,
)
# The services, each logging in as a RabbitMQ user named like itself.
SERVICES = tuple(party for party in PARTIES if party.internal_user)
EXCHANGES = (EXCHANGE, DEAD_LETTER_EXCHANGE)


def all_queues() -> tuple[Queue, ...]:
    """Every queue anyone declares, dead-letter queues included, each once, in table order."""
    seen: dict[str, Queue] = {}
    for party in PARTIES:
        for queue in party.declared_queues:
            seen.setdefault(queue.name.template, queue)
    return tuple(seen.values())


def topic_matches(binding: str, key: str) -> bool:
    """Whether a topic binding (``*`` one word, ``#`` zero or more) matches a routing key; a
    ``{parameter}`` word of a key template counts as one word."""

    def match(pattern: list[str], words: list[str]) -> bool:
        if not pattern:
            return not words
        head, rest = pattern[0], pattern[1:]
        if head == "#":
            return any(match(rest, words[skip:]) for skip in range(len(words) + 1))
        if not words:
            return False
        same = head == "*" or head == words[0]
        return same and match(rest, words[1:])

    return match(binding.split("."), key.split("."))


def routes_into(queue: Queue) -> tuple[Route, ...]:
    """The routes whose messages a queue of the iot exchange receives."""
    if queue.exchange != EXCHANGE:
        return ()
    return tuple(
        route
        for route in ROUTES
        if any(topic_matches(binding.template, route.key.template) for binding in queue.bindings)
    )


@dataclass(frozen=True)
class Needs:
    """The names a party needs each permission on (RabbitMQ's rules, per operation):

    - exchange.declare: configure on the exchange;
    - queue.declare: configure on the queue; with x-dead-letter-exchange also read on the
      queue and write on the dead-letter exchange;
    - queue.bind: write on the queue, read on the exchange, and topic read of the binding key;
    - basic.publish: write on the exchange and topic write of the routing key;
    - basic.consume / basic.get: read on the queue; queue.delete: configure on the queue.

    Exchange names and queue names share one namespace in the regexes, so both are here.
    """

    configure: tuple[Name, ...]
    write: tuple[Name, ...]
    read: tuple[Name, ...]
    # exchange name -> binding keys (read) and routing keys (write)
    topic_read: dict[str, tuple[Name, ...]]
    topic_write: dict[str, tuple[Name, ...]]


def needs(party: Party) -> Needs:
    """What the party's declarations, consumers, deletions and publishes need."""
    configure: list[Name] = []
    write: list[Name] = []
    read: list[Name] = []
    topic_read: dict[str, list[Name]] = {exchange.name: [] for exchange in EXCHANGES}
    topic_write: dict[str, list[Name]] = {exchange.name: [] for exchange in EXCHANGES}
    if party.exchanges:
        configure += [Name(exchange.name) for exchange in EXCHANGES]
    for queue in party.declared_queues:
        configure.append(queue.name)
        if queue.spec.dead_lettered:
            read.append(queue.name)
            write.append(Name(DEAD_LETTER_EXCHANGE.name))
        if queue.bindings:
            write.append(queue.name)
            read.append(Name(queue.exchange.name))
            topic_read[queue.exchange.name] += queue.bindings
    for queue in party.consumes:
        read.append(queue.name)
    for queue in party.deletes:
        configure.append(queue.name)
    if party.publishes:
        write.append(Name(EXCHANGE.name))
        topic_write[EXCHANGE.name] += [route.key for route in party.publishes]

    def unique(names: list[Name]) -> tuple[Name, ...]:
        return tuple(dict.fromkeys(names))

    return Needs(
        unique(configure),
        unique(write),
        unique(read),
        {name: unique(keys) for name, keys in topic_read.items()},
        {name: unique(keys) for name, keys in topic_write.items()},
    )


def union(patterns: Iterable[str]) -> str:
    """``^(a|b)$`` of distinct expressions in order, ``^$`` (nothing) when there are none."""
    unique = list(dict.fromkeys(patterns))
    if not unique:
        return "^$"
    if len(unique) == 1:
        return f"^{unique[0]}$"
    return "^(" + "|".join(unique) + ")$"
