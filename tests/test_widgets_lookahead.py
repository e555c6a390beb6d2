"""Lookahead: the states a widget sends ahead are the ones its state function gives.

A toy widget (one slider, one menu, a state that is easy to compute by hand)
pins the rules of :class:`convkit.widgets.base.ConvWidget`'s lookahead; the
course widgets are then checked against fresh widgets set to each neighbour.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from unittest import mock

import pytest

from convkit.widgets.base import ConvWidget, _data_to_json, choice, floats, slider
from convkit.widgets.explorer import explorer
from convkit.widgets.nodelay import SERVER_OPTION, NoDelayKernelConnection
from convkit.widgets.params import parameter_counter
from convkit.widgets.playground import playground
from convkit.widgets.stepper import stepper
from convkit.widgets.template import template_matcher


class Toy(ConvWidget):
    """A slider ``n`` in 0..9 and a menu ``sign``; odd ``n`` with sign -1 is refused."""

    def __init__(self, **settings):
        self.computed: list[dict] = []
        super().__init__({"n": 4, "sign": 1, **settings})

    def controls_spec(self, settings):
        return [slider("n", "n", 0, 9, settings["n"]), choice("sign", "sign", [("+", 1), ("-", -1)], 1)]

    def compute(self, settings):
        self.computed.append(dict(settings))
        if settings["sign"] == -1 and settings["n"] % 2:
            raise ValueError("odd n with sign -1")
        value = settings["sign"] * settings["n"] ** 2
        return value, {"square": value, "ramp": floats([settings["n"]] * 3), "same": floats([7.0, 7.0])}


def _sent(widget, content):
    """What the widget answers to the browser message ``content``: (message, buffers)."""
    with mock.patch.object(widget, "send") as send:
        widget._on_message(widget, content, [])
    if not send.called:
        return None
    (message, buffers), _ = send.call_args
    return message, buffers


def _state_of(entry, buffers):
    """An entry of an ahead message, decoded as the browser decodes it."""
    data = json.loads(entry["json"])
    for path, index in entry["buffers"].items():
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = bytes(buffers[index])
    return data


def test_neighbours_are_one_step_on_each_control_within_its_range():
    toy = Toy(n=9)
    assert toy.neighbours(dict(toy.settings)) == [{"n": 8, "sign": 1}, {"n": 9, "sign": -1}]


def test_a_named_control_gets_four_steps_each_way_and_the_others_none():
    toy = Toy(n=2)
    near = toy.neighbours(dict(toy.settings), first="n")
    assert [s["n"] for s in near] == [3, 1, 4, 0, 5, 6]
    assert all(s["sign"] == 1 for s in near)


def test_ahead_entries_hold_what_compute_gives_for_each_neighbour_and_leave_out_refused_ones():
    toy = Toy(n=4, sign=-1)
    message, buffers = _sent(toy, {"kind": "ahead", "first": "n"})
    assert message["kind"] == "ahead"
    sent = {entry["settings"]["n"]: _state_of(entry, buffers) for entry in message["entries"]}
    assert sorted(sent) == [0, 2, 6, 8]  # 3, 5, 1 and 7 are odd: refused with sign -1
    for n, data in sent.items():
        assert data["square"] == -(n**2)
        assert data["ramp"] == {"shape": [3], "values": bytes(floats([n] * 3)["values"])}
        assert data["_settings"] == {"n": n, "sign": -1}
    # The array every state shares is sent once.
    assert len(buffers) == len(sent) + 1


def test_states_already_sent_are_not_sent_again_until_the_page_is_fresh():
    toy = Toy(n=4)
    first, _ = _sent(toy, {"kind": "ahead", "first": "n"})
    again, buffers = _sent(toy, {"kind": "ahead", "first": "n"})
    assert len(first["entries"]) == 8 and again["entries"] == [] and buffers == []
    reloaded, _ = _sent(toy, {"kind": "ahead", "first": "n", "fresh": True})
    assert len(reloaded["entries"]) == 8


def test_a_change_to_a_state_sent_ahead_reuses_it_instead_of_computing_again():
    toy = Toy(n=4)
    _sent(toy, {"kind": "ahead", "first": "n"})
    toy.computed.clear()
    toy.controls["n"].value = 5
    assert toy.computed == [] and toy.state == 25 and toy.data["square"] == 25
    toy.controls["n"].value = 9  # five steps from 4: not sent ahead, so computed
    assert toy.computed == [{"n": 9, "sign": 1}] and toy.state == 81


@pytest.mark.parametrize("content", [None, "ahead", {"kind": "other"}, {"kind": "ahead", "first": 3}, []])
def test_other_messages_are_ignored_and_odd_requests_still_answered(content):
    toy = Toy()
    answer = _sent(toy, content)
    if isinstance(content, dict) and content.get("kind") == "ahead":
        assert answer is not None and len(answer[0]["entries"]) == 3  # a bad name: every control
    else:
        assert answer is None


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (explorer, "stride_w"),
        (explorer, "mode"),
        (template_matcher, "left"),
        (template_matcher, "source"),
        (stepper, "example"),
        (stepper, "padding_w"),
        (playground, "preset"),
        (playground, "size"),
        (parameter_counter, "kernel_size"),
    ],
)
def test_course_widgets_send_ahead_the_state_a_widget_set_there_shows(make, name):
    widget = make()
    message, buffers = _sent(widget, {"kind": "ahead", "first": name})
    assert message["entries"], "no neighbour at all"
    for entry in message["entries"]:
        fresh = make()
        fresh.settings = entry["settings"]
        expected = _data_to_json(fresh.data, fresh)
        assert json.loads(entry["json"]) == json.loads(expected["json"])
        got = {path: bytes(buffers[index]) for path, index in entry["buffers"].items()}
        assert got == {path: bytes(view) for path, view in expected["buffers"].items()}


def test_a_state_sent_ahead_is_drawn_from_the_settings_the_change_settles_at():
    # A new image brings its own patch: the entry is filed under the menu's value alone,
    # and drawn for the image's default patch, as the widget itself ends up.
    widget = template_matcher()
    message, buffers = _sent(widget, {"kind": "ahead", "first": "source"})
    (entry,) = message["entries"]
    moved = template_matcher()
    moved.controls["source"].value = entry["settings"]["source"]
    assert entry["settings"] == {**widget.settings, "source": moved.settings["source"]}
    assert json.loads(entry["json"])["_settings"] == moved.settings != entry["settings"]
    assert json.loads(entry["json"])["ncc_peak"] == moved.data["ncc_peak"]


def test_the_kernel_websocket_turns_nagle_off_before_it_connects():
    calls = []
    parent = "jupyter_server.services.kernels.connection.channels.ZMQChannelsWebsocketConnection.connect"
    with mock.patch(parent, autospec=True, side_effect=lambda self: calls.append("connect")):
        connection = NoDelayKernelConnection.__new__(NoDelayKernelConnection)
        handler = mock.Mock()
        handler.set_nodelay.side_effect = lambda value: calls.append(("nodelay", value))
        with mock.patch.object(NoDelayKernelConnection, "websocket_handler", handler):
            connection.connect()
    assert calls == [("nodelay", True), "connect"]


def test_make_lab_serves_the_course_with_the_same_connection_class():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    lab = makefile[makefile.index("\nlab:") : makefile.index("\ntest:")]
    assert SERVER_OPTION in lab.replace("\\\n", " ").split()
    module, _, name = SERVER_OPTION.split("=", 1)[1].rpartition(".")
    assert getattr(importlib.import_module(module), name) is NoDelayKernelConnection


def _at_position_five():
    # The lecture's 3×5 example has 3 × 3 outputs; a stride of 3 or more leaves fewer than six.
    widget = stepper()
    widget.controls["example"].value = "2d: 3×5 input, padding (2, 1), stride (2, 2)"
    widget.controls["position"].value = 5
    return widget


@pytest.mark.parametrize(
    "make",
    [explorer, template_matcher, _at_position_five, stepper, playground, parameter_counter],
    ids=["explorer", "template", "stepper at 5", "stepper", "playground", "params"],
)
def test_lookahead_on_every_control_leaves_settings_state_and_position_as_they_were(make):
    widget = make()
    names = [None, *(s["name"] for s in widget.spec if s["kind"] != "button")]
    settings, state, data = dict(widget.settings), widget.state, widget.data
    position = widget.position if widget.has_trait("position") else None
    moved, sent = [], 0
    if position is not None:
        widget.observe(moved.append, "position")
    for name in names:
        answer, _ = _sent(widget, {"kind": "ahead", "first": name, "fresh": True})
        sent += len(answer["entries"])
        assert widget.settings == settings and widget.state is state and widget.data is data, name
        assert widget.error == "", name
        if position is not None:
            assert widget.position == position, name
    assert sent > len(names) and moved == []
